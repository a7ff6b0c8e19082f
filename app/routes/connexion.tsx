import type {
  ActionFunctionArgs,
  LoaderFunctionArgs,
  MetaFunction,
} from "@remix-run/node";
import { json, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { useRef } from "react";
import { AuthenticityTokenInput } from "remix-utils/csrf/react";
import { safeRedirect } from "remix-utils/safe-redirect";
import { z } from "zod";

import { requireValidCsrf } from "~/auth/csrf.server";
import { emailField, requiredText } from "~/auth/form-fields.server";
import { hashPassword, verifyPassword } from "~/auth/password.server";
import { createUserSession, getUser } from "~/auth/session.server";
import { FormField, useFirstInvalidField } from "~/components/form-field";
import { SubmitButton } from "~/components/submit-button";
import { getDb } from "~/db.server";
import {
  getUserByEmail,
  maskEmail,
  normalizeEmail,
} from "~/models/user.server";
import { logRedirects } from "~/request-log.server";

const DEFAULT_REDIRECT = "/compte";
// Above the sign-up maximum, so no real password is refused; only there so
// nobody makes the server hash megabytes.
const PASSWORD_INPUT_LIMIT = 1024;

const INVALID_CREDENTIALS = "Adresse courriel ou mot de passe incorrect.";
const PASSWORD_REQUIRED = "Entrez votre mot de passe.";

// Built on call rather than at load: only the action uses it, and a
// module-level schema would ship zod to the browser for nothing.
function loginFormSchema() {
  return z.object({
    email: emailField(),
    password: requiredText(PASSWORD_REQUIRED),
  });
}

type FieldErrors = { email?: string; password?: string; form?: string };

// An unknown address is checked against this hash, so it costs one scrypt
// like a known one and the response time does not tell which addresses have
// an account. Made from the current hashing cost, so it follows any change.
let dummyHash: Promise<string> | undefined;

function getDummyHash(): Promise<string> {
  dummyHash ??= hashPassword(crypto.randomUUID());
  return dummyHash;
}

function invalid(errors: FieldErrors, email: FormDataEntryValue | null) {
  return json(
    { errors, values: { email: typeof email === "string" ? email : "" } },
    { status: 400 },
  );
}

export async function loader({ request }: LoaderFunctionArgs) {
  return logRedirects(request, async () => {
    if (await getUser(request)) throw redirect(DEFAULT_REDIRECT);
    // Made while the visitor types, so the first unknown address does not pay
    // for building it.
    void getDummyHash();
    const redirectTo = new URL(request.url).searchParams.get("redirectTo");
    return json({ redirectTo: safeRedirect(redirectTo, DEFAULT_REDIRECT) });
  });
}

// No rate limit yet: scrypt's cost per attempt is the only brake on guessing.
export async function action({ request }: ActionFunctionArgs) {
  return logRedirects(request, async () => {
    await requireValidCsrf(request);
    const formData = await request.formData();
    const typedEmail = formData.get("email");

    const parsed = loginFormSchema().safeParse(Object.fromEntries(formData));
    if (!parsed.success) {
      const { fieldErrors } = parsed.error.flatten();
      return invalid(
        { email: fieldErrors.email?.[0], password: fieldErrors.password?.[0] },
        typedEmail,
      );
    }
    const { email, password } = parsed.data;
    if (password.length > PASSWORD_INPUT_LIMIT) {
      return invalid({ form: INVALID_CREDENTIALS }, typedEmail);
    }

    const user = await getUserByEmail(await getDb(), email);
    let matches = false;
    if (user) {
      matches = await verifyPassword(password, user.password_hash);
    } else {
      await verifyPassword(password, await getDummyHash());
    }
    if (!user || !matches) {
      console.info(
        `[auth] login refused for ${maskEmail(normalizeEmail(email))}`,
      );
      return invalid({ form: INVALID_CREDENTIALS }, typedEmail);
    }

    console.info(`[auth] user ${user.id} logged in`);
    const redirectTo =
      formData.get("redirectTo") ??
      new URL(request.url).searchParams.get("redirectTo");
    return createUserSession(
      request,
      user.id,
      safeRedirect(redirectTo, DEFAULT_REDIRECT),
    );
  });
}

export default function LoginPage() {
  const { redirectTo } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: FieldErrors = actionData?.errors ?? {};
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  // Wrong credentials are not pinned on one field: both are marked, and
  // focus goes back to the first.
  const emailError = errors.email ?? errors.form;
  const passwordError = errors.password ?? errors.form;
  const firstInvalid = useFirstInvalidField(actionData, [
    [Boolean(emailError), emailRef],
    [Boolean(passwordError), passwordRef],
  ]);

  const signUpHref =
    redirectTo === DEFAULT_REDIRECT
      ? "/inscription"
      : `/inscription?${new URLSearchParams({ redirectTo })}`;

  return (
    <section aria-labelledby="connexion-titre">
      <h1 id="connexion-titre">Se connecter</h1>
      <Form method="post">
        <AuthenticityTokenInput />
        <input type="hidden" name="redirectTo" value={redirectTo} />
        {errors.form ? (
          <p id="connexion-erreur" className="field-error" role="alert">
            {errors.form}
          </p>
        ) : null}

        <FormField
          id="connexion-email"
          label="Adresse courriel"
          inputRef={emailRef}
          name="email"
          type="email"
          autoComplete="username"
          required
          defaultValue={actionData?.values.email ?? ""}
          autoFocus={firstInvalid === emailRef}
          error={errors.email}
          invalid={Boolean(emailError)}
          describedBy={[!errors.email && errors.form && "connexion-erreur"]}
        />

        <FormField
          id="connexion-password"
          label="Mot de passe"
          inputRef={passwordRef}
          name="password"
          type="password"
          autoComplete="current-password"
          required
          autoFocus={firstInvalid === passwordRef}
          error={errors.password}
          invalid={Boolean(passwordError)}
          describedBy={[!errors.password && errors.form && "connexion-erreur"]}
        />

        <p>
          <SubmitButton pendingLabel="Connexion…">Se connecter</SubmitButton>
        </p>
      </Form>
      <p>
        Pas encore de compte ? <Link to={signUpHref}>Créer un compte</Link>
      </p>
    </section>
  );
}

export const meta: MetaFunction = () => [{ title: "Se connecter — DictIA" }];
