import type {
  ActionFunctionArgs,
  LoaderFunctionArgs,
  MetaFunction,
} from "@remix-run/node";
import { json, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { useRef } from "react";
import { AuthenticityTokenInput } from "remix-utils/csrf/react";
import { HoneypotInputs } from "remix-utils/honeypot/react";
import { Honeypot, SpamError } from "remix-utils/honeypot/server";
import { safeRedirect } from "remix-utils/safe-redirect";
import { z } from "zod";

import { requireValidCsrf } from "~/auth/csrf.server";
import { emailField, requiredText } from "~/auth/form-fields.server";
import { hashPassword } from "~/auth/password.server";
import { createUserSession, getUser } from "~/auth/session.server";
import { FormField, useFirstInvalidField } from "~/components/form-field";
import { SubmitButton } from "~/components/submit-button";
import { getDb } from "~/db.server";
import { createUser, maskEmail, normalizeEmail } from "~/models/user.server";
import { logRedirects } from "~/request-log.server";

const DEFAULT_REDIRECT = "/compte";
const PASSWORD_MIN_LENGTH = 10;
// Long enough for any passphrase or password manager; short enough that
// nobody makes the server hash megabytes.
const PASSWORD_MAX_LENGTH = 200;

const PASSWORD_REQUIRED = "Choisissez un mot de passe.";

// Built on call rather than at load: only the action uses it, and a
// module-level schema would ship zod to the browser for nothing.
function signUpFormSchema() {
  return z.object({
    email: emailField(),
    password: requiredText(PASSWORD_REQUIRED)
      .min(
        PASSWORD_MIN_LENGTH,
        `Le mot de passe doit compter au moins ${PASSWORD_MIN_LENGTH} caractères.`,
      )
      .max(
        PASSWORD_MAX_LENGTH,
        `Le mot de passe doit compter au plus ${PASSWORD_MAX_LENGTH} caractères.`,
      ),
  });
}

type FieldErrors = { email?: string; password?: string; form?: string };

function invalid(errors: FieldErrors, email: FormDataEntryValue | null) {
  return json(
    { errors, values: { email: typeof email === "string" ? email : "" } },
    { status: 400 },
  );
}

export async function loader({ request }: LoaderFunctionArgs) {
  return logRedirects(request, async () => {
    if (await getUser(request)) throw redirect(DEFAULT_REDIRECT);
    const redirectTo = new URL(request.url).searchParams.get("redirectTo");
    return json({ redirectTo: safeRedirect(redirectTo, DEFAULT_REDIRECT) });
  });
}

export async function action({ request }: ActionFunctionArgs) {
  return logRedirects(request, async () => {
    await requireValidCsrf(request);
    const formData = await request.formData();
    const typedEmail = formData.get("email");

    // Only the hidden field is checked, not the time-stamped one: that one needs
    // a provider and a shared encryption seed in the root, and a filled hidden
    // field already stops the form-filling robots that this is meant for.
    try {
      new Honeypot({ validFromFieldName: null }).check(formData);
    } catch (error) {
      if (!(error instanceof SpamError)) throw error;
      console.warn("[auth] sign-up refused: honeypot field filled");
      return invalid(
        { form: "Votre demande n’a pas pu être traitée. Veuillez réessayer." },
        typedEmail,
      );
    }

    const parsed = signUpFormSchema().safeParse(Object.fromEntries(formData));
    if (!parsed.success) {
      const { fieldErrors } = parsed.error.flatten();
      return invalid(
        { email: fieldErrors.email?.[0], password: fieldErrors.password?.[0] },
        typedEmail,
      );
    }

    const email = normalizeEmail(parsed.data.email);
    // Hashed before the insert so that a taken address costs the same time as a
    // free one.
    const passwordHash = await hashPassword(parsed.data.password);
    const user = await createUser(await getDb(), { email, passwordHash });
    if (!user) {
      // An address can belong to only one account, so sign-up cannot hide that
      // one exists without sending a confirmation email, which we do not send
      // yet. The message stays neutral and points to logging in; scrypt's cost
      // per attempt is what slows anyone listing addresses this way.
      console.info(`[auth] sign-up refused: ${maskEmail(email)} is taken`);
      return invalid(
        {
          email:
            "Cette adresse ne peut pas être utilisée pour un nouveau compte. Si elle est déjà inscrite, connectez-vous.",
        },
        typedEmail,
      );
    }

    console.info(`[auth] user ${user.id} signed up`);
    return createUserSession(
      request,
      user.id,
      safeRedirect(formData.get("redirectTo"), DEFAULT_REDIRECT),
    );
  });
}

export default function SignUpPage() {
  const { redirectTo } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: FieldErrors = actionData?.errors ?? {};
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const firstInvalid = useFirstInvalidField(actionData, [
    [Boolean(errors.email), emailRef],
    [Boolean(errors.password), passwordRef],
  ]);

  const loginHref =
    redirectTo === DEFAULT_REDIRECT
      ? "/connexion"
      : `/connexion?${new URLSearchParams({ redirectTo })}`;

  return (
    <section aria-labelledby="inscription-titre">
      <h1 id="inscription-titre">Créer un compte</h1>
      <Form method="post">
        <AuthenticityTokenInput />
        <HoneypotInputs label="Laissez ce champ vide" />
        <input type="hidden" name="redirectTo" value={redirectTo} />
        {errors.form ? (
          <p className="field-error" role="alert">
            {errors.form}
          </p>
        ) : null}

        <FormField
          id="inscription-email"
          label="Adresse courriel"
          inputRef={emailRef}
          name="email"
          type="email"
          autoComplete="email"
          required
          maxLength={254}
          defaultValue={actionData?.values.email ?? ""}
          autoFocus={firstInvalid === emailRef}
          error={errors.email}
        />

        <FormField
          id="inscription-password"
          label="Mot de passe"
          inputRef={passwordRef}
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={PASSWORD_MIN_LENGTH}
          maxLength={PASSWORD_MAX_LENGTH}
          autoFocus={firstInvalid === passwordRef}
          error={errors.password}
          describedBy={["inscription-password-aide"]}
        >
          <p id="inscription-password-aide">
            Au moins {PASSWORD_MIN_LENGTH} caractères.
          </p>
        </FormField>

        <p>
          <SubmitButton pendingLabel="Création du compte…">
            Créer mon compte
          </SubmitButton>
        </p>
      </Form>
      <p>
        Déjà un compte ? <Link to={loginHref}>Se connecter</Link>
      </p>
    </section>
  );
}

export const meta: MetaFunction = () => [{ title: "Créer un compte — DictIA" }];
