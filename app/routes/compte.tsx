import type {
  ActionFunctionArgs,
  LoaderFunctionArgs,
  MetaFunction,
  SerializeFrom,
} from "@remix-run/node";
import { json } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { useRef, type ReactNode } from "react";
import { AuthenticityTokenInput } from "remix-utils/csrf/react";

import { requireValidCsrf } from "~/auth/csrf.server";
import { verifyPassword } from "~/auth/password.server";
import { endSessionWithFlash, requireUser } from "~/auth/session.server";
import { grantsAccess, statusLabel } from "~/billing/access";
import { deleteAccount } from "~/billing/account-deletion.server";
import { getPlanInfo, isPeriod, PERIOD_LABELS } from "~/billing/plans";
import { FormField, useFirstInvalidField } from "~/components/form-field";
import { SubmitButton } from "~/components/submit-button";
import { getDb } from "~/db.server";
import { getCurrentSubscriptionForUser } from "~/models/subscription.server";
import { logRedirects } from "~/request-log.server";

// The same locale and time zone on the server and in the browser, so the
// date the server wrote is the one hydration computes.
const DATE_FORMAT = new Intl.DateTimeFormat("fr-CA", {
  dateStyle: "long",
  timeZone: "America/Toronto",
});

const ENDED_STATUSES = new Set(["canceled", "incomplete_expired"]);

const PORTAL_ACTION = "/compte/portail";
const DELETE_INTENT = "supprimer-compte";
// Above the sign-up maximum, so no real password is refused; only there so
// nobody makes the server hash megabytes.
const PASSWORD_INPUT_LIMIT = 1024;

const MESSAGES = {
  passwordRequired: "Entrez votre mot de passe pour confirmer la suppression.",
  wrongPassword: "Mot de passe incorrect : votre compte n’a pas été supprimé.",
  unknownIntent: "Cette demande n’est pas reconnue. Veuillez réessayer.",
  deleted: "Votre compte a été supprimé.",
} as const;

type FieldErrors = { password?: string; form?: string };

export async function loader({ request }: LoaderFunctionArgs) {
  return logRedirects(request, async () => {
    const user = await requireUser(request);
    const row = await getCurrentSubscriptionForUser(await getDb(), user.id);
    const subscription = row
      ? {
          planName: getPlanInfo(row.plan ?? "")?.name ?? "Forfait DictIA",
          periodLabel: isPeriod(row.period) ? PERIOD_LABELS[row.period] : null,
          status: row.status,
          statusLabel: statusLabel(row.status),
          currentPeriodEnd: row.current_period_end,
          endedAt: row.ended_at,
          cancelAtPeriodEnd: row.cancel_at_period_end === 1,
        }
      : null;
    return json({
      email: user.email,
      // The portal needs the user's own Stripe customer; a subscription linked
      // only through the email may belong to another one.
      hasBillingAccount: user.stripe_customer_id !== null,
      subscription,
    });
  });
}

// The account deletion (Québec's Law 25). The billing portal has its own
// resource route, /compte/portail.
export async function action({ request }: ActionFunctionArgs) {
  return logRedirects(request, async () => {
    await requireValidCsrf(request);
    const user = await requireUser(request);
    const form = await request.formData();
    if (form.get("intent") !== DELETE_INTENT) {
      return invalid({ form: MESSAGES.unknownIntent });
    }
    const password = form.get("password");
    if (typeof password !== "string" || password === "") {
      return invalid({ password: MESSAGES.passwordRequired });
    }
    if (
      password.length > PASSWORD_INPUT_LIMIT ||
      !(await verifyPassword(password, user.password_hash))
    ) {
      console.info(
        `[account] deletion refused user=${user.id}: wrong password`,
      );
      return invalid({ password: MESSAGES.wrongPassword });
    }

    const result = await deleteAccount(user);
    if (!result.ok) {
      // Nothing was deleted: the user may simply try again later.
      return json({ errors: { form: result.message } as FieldErrors }, 503);
    }
    return endSessionWithFlash(request, "/tarifs", {
      kind: "success",
      message: MESSAGES.deleted,
    });
  });
}

type Subscription = NonNullable<SerializeFrom<typeof loader>["subscription"]>;

function invalid(errors: FieldErrors) {
  return json({ errors }, { status: 400 });
}

function formatDate(unixSeconds: number): string {
  return DATE_FORMAT.format(new Date(unixSeconds * 1000));
}

/** What the date shown means for this status, or null when it means nothing. */
function endLabel(subscription: Subscription): string | null {
  const { status, cancelAtPeriodEnd } = subscription;
  if (ENDED_STATUSES.has(status)) return "Date de fin";
  if (!grantsAccess(status)) return null;
  if (cancelAtPeriodEnd) return "Date de fin";
  if (status === "trialing") return "Fin de la période d’essai";
  return "Prochain renouvellement";
}

/**
 * An ended subscription shows when it ended: one canceled at once stopped
 * before its paid period did. Rows stored before Stripe's `ended_at` was
 * kept fall back to the period end.
 */
function shownDate(subscription: Subscription): number | null {
  if (ENDED_STATUSES.has(subscription.status) && subscription.endedAt) {
    return subscription.endedAt;
  }
  return subscription.currentPeriodEnd;
}

/** A POST to the billing portal: works without JavaScript too. */
function PortalForm({
  children,
  className,
}: {
  children: ReactNode;
  className?: string;
}) {
  return (
    <Form method="post" action={PORTAL_ACTION} className={className}>
      <AuthenticityTokenInput />
      <SubmitButton
        action={PORTAL_ACTION}
        pendingLabel="Ouverture du portail de facturation…"
      >
        {children}
      </SubmitButton>
    </Form>
  );
}

function SubscriptionSummary({
  subscription,
  hasBillingAccount,
}: {
  subscription: Subscription;
  hasBillingAccount: boolean;
}) {
  const { status } = subscription;
  const label = endLabel(subscription);
  const date = shownDate(subscription);
  const endDate = date === null ? null : formatDate(date);
  const ended = ENDED_STATUSES.has(status);

  return (
    <>
      <dl className="facts">
        <dt>Forfait</dt>
        <dd>
          {subscription.planName}
          {subscription.periodLabel ? ` — ${subscription.periodLabel}` : null}
        </dd>
        <dt>Statut</dt>
        <dd>{subscription.statusLabel}</dd>
        {label && endDate ? (
          <>
            <dt>{label}</dt>
            <dd>{endDate}</dd>
          </>
        ) : null}
      </dl>

      {subscription.cancelAtPeriodEnd && !ended && endDate ? (
        <p className="notice">
          Votre abonnement ne sera pas renouvelé : il se termine le {endDate}.
          Vous pouvez le reprendre d’ici là dans le portail de facturation.
        </p>
      ) : null}
      {status === "past_due" ? (
        <div className="notice notice-warning" role="alert">
          <p>
            Le dernier paiement n’a pas abouti. Stripe va réessayer de prélever
            le montant et votre accès est maintenu d’ici là ; vérifiez votre
            moyen de paiement.
          </p>
          {hasBillingAccount ? (
            <PortalForm>Mettre à jour mon moyen de paiement</PortalForm>
          ) : null}
        </div>
      ) : null}
      {status === "unpaid" ? (
        <div className="notice notice-warning" role="alert">
          <p>
            Les paiements de votre abonnement n’ont pas abouti : l’accès à
            DictIA est suspendu jusqu’au règlement de la facture.
          </p>
          {hasBillingAccount ? (
            <PortalForm>Régler ma facture</PortalForm>
          ) : null}
        </div>
      ) : null}
      {status === "incomplete" ? (
        <p className="notice">
          Votre premier paiement n’est pas encore confirmé : l’abonnement sera
          activé dès sa confirmation. Un prélèvement bancaire peut prendre
          quelques jours ouvrables.
        </p>
      ) : null}
      {ended ? (
        <p>
          <Link to="/tarifs">Choisir un nouveau forfait</Link>
        </p>
      ) : null}
    </>
  );
}

function DeleteAccountForm({
  subscription,
  actionData,
}: {
  subscription: Subscription | null;
  actionData: SerializeFrom<typeof action> | undefined;
}) {
  const passwordRef = useRef<HTMLInputElement>(null);
  const errors: FieldErrors = actionData?.errors ?? {};
  const running = subscription && !ENDED_STATUSES.has(subscription.status);

  const firstInvalid = useFirstInvalidField(actionData, [
    [Boolean(errors.password), passwordRef],
  ]);

  return (
    <Form method="post" className="danger-zone">
      <AuthenticityTokenInput />
      <input type="hidden" name="intent" value={DELETE_INTENT} />
      <p>
        La suppression efface votre compte DictIA : votre adresse courriel et
        votre mot de passe. Elle est définitive.
      </p>
      {running ? (
        <p>
          <strong>
            Votre abonnement {subscription.planName} sera d’abord annulé
            immédiatement, sans remboursement de la période en cours.
          </strong>
        </p>
      ) : null}
      <p>
        L’historique de vos abonnements est conservé sans lien avec votre
        compte, et vos factures restent chez Stripe, pour nos obligations
        comptables.
      </p>
      {errors.form ? (
        <p id="suppression-erreur" className="field-error" role="alert">
          {errors.form}
        </p>
      ) : null}
      <FormField
        id="suppression-password"
        label="Mot de passe actuel, pour confirmer"
        inputRef={passwordRef}
        name="password"
        type="password"
        autoComplete="current-password"
        required
        autoFocus={firstInvalid === passwordRef}
        error={errors.password}
      />
      <p>
        <SubmitButton className="danger" pendingLabel="Suppression en cours…">
          Supprimer définitivement mon compte
        </SubmitButton>
      </p>
    </Form>
  );
}

export default function AccountPage() {
  const { email, subscription, hasBillingAccount } =
    useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();

  return (
    <>
      <h1>Mon compte</h1>

      <section className="card" aria-labelledby="compte-identifiant">
        <h2 id="compte-identifiant">Identifiant</h2>
        <p>
          Adresse courriel : <strong>{email}</strong>
        </p>
      </section>

      <section className="card" aria-labelledby="compte-abonnement">
        <h2 id="compte-abonnement">Abonnement</h2>
        {subscription ? (
          <SubscriptionSummary
            subscription={subscription}
            hasBillingAccount={hasBillingAccount}
          />
        ) : (
          <p>
            Vous n’avez pas d’abonnement pour le moment.{" "}
            <Link to="/tarifs">Voir les forfaits</Link>
          </p>
        )}
      </section>

      {hasBillingAccount ? (
        <section className="card" aria-labelledby="compte-facturation">
          <h2 id="compte-facturation">Facturation</h2>
          <p>
            Moyen de paiement, factures, changement ou annulation de
            l’abonnement : tout se gère dans le portail sécurisé de Stripe, qui
            vous ramène ensuite ici.
          </p>
          <PortalForm>Gérer mon abonnement et mes factures</PortalForm>
        </section>
      ) : null}

      <section className="card" aria-labelledby="compte-suppression">
        <h2 id="compte-suppression">Supprimer mon compte</h2>
        <DeleteAccountForm
          subscription={subscription}
          actionData={actionData}
        />
      </section>
    </>
  );
}

export const meta: MetaFunction = () => [{ title: "Mon compte — DictIA" }];
