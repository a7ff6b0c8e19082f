import type {
  LoaderFunctionArgs,
  MetaFunction,
  SerializeFrom,
} from "@remix-run/node";
import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";

import { requireUser } from "~/auth/session.server";
import { grantsAccess, statusLabel } from "~/billing/access";
import { getPlanInfo, isPeriod, PERIOD_LABELS } from "~/billing/plans";
import { getDb } from "~/db.server";
import { getCurrentSubscriptionForUser } from "~/models/subscription.server";

// The same locale and time zone on the server and in the browser, so the
// date the server wrote is the one hydration computes.
const DATE_FORMAT = new Intl.DateTimeFormat("fr-CA", {
  dateStyle: "long",
  timeZone: "America/Toronto",
});

const ENDED_STATUSES = new Set(["canceled", "incomplete_expired"]);

export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  const row = await getCurrentSubscriptionForUser(await getDb(), user.id);
  const subscription = row
    ? {
        planName: getPlanInfo(row.plan ?? "")?.name ?? "Forfait DictIA",
        periodLabel: isPeriod(row.period) ? PERIOD_LABELS[row.period] : null,
        status: row.status,
        statusLabel: statusLabel(row.status),
        currentPeriodEnd: row.current_period_end,
        cancelAtPeriodEnd: row.cancel_at_period_end === 1,
      }
    : null;
  return json({ email: user.email, subscription });
}

type Subscription = NonNullable<SerializeFrom<typeof loader>["subscription"]>;

function formatDate(unixSeconds: number): string {
  return DATE_FORMAT.format(new Date(unixSeconds * 1000));
}

/** What the period end means for this status, or null when it means nothing. */
function periodEndLabel(subscription: Subscription): string | null {
  const { status, cancelAtPeriodEnd } = subscription;
  if (ENDED_STATUSES.has(status)) return "Date de fin";
  if (!grantsAccess(status)) return null;
  if (cancelAtPeriodEnd) return "Date de fin";
  if (status === "trialing") return "Fin de la période d’essai";
  return "Prochain renouvellement";
}

function SubscriptionSummary({ subscription }: { subscription: Subscription }) {
  const { status, currentPeriodEnd } = subscription;
  const endLabel = periodEndLabel(subscription);
  const endDate =
    currentPeriodEnd === null ? null : formatDate(currentPeriodEnd);
  const ended = ENDED_STATUSES.has(status);

  return (
    <>
      <dl>
        <dt>Forfait</dt>
        <dd>
          {subscription.planName}
          {subscription.periodLabel ? ` — ${subscription.periodLabel}` : null}
        </dd>
        <dt>Statut</dt>
        <dd>{subscription.statusLabel}</dd>
        {endLabel && endDate ? (
          <>
            <dt>{endLabel}</dt>
            <dd>{endDate}</dd>
          </>
        ) : null}
      </dl>

      {subscription.cancelAtPeriodEnd && !ended && endDate ? (
        <p className="notice">
          Votre abonnement ne sera pas renouvelé : il se termine le {endDate}.
        </p>
      ) : null}
      {status === "past_due" ? (
        <p className="notice">
          Le dernier paiement n’a pas abouti. Stripe va réessayer de prélever le
          montant et votre accès est maintenu d’ici là ; vérifiez votre moyen de
          paiement.
        </p>
      ) : null}
      {status === "unpaid" ? (
        <p className="notice">
          Les paiements de votre abonnement n’ont pas abouti : l’accès à DictIA
          est suspendu jusqu’au règlement de la facture.
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

export default function AccountPage() {
  const { email, subscription } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Mon compte</h1>

      <section aria-labelledby="compte-identifiant">
        <h2 id="compte-identifiant">Identifiant</h2>
        <p>
          Adresse courriel : <strong>{email}</strong>
        </p>
      </section>

      <section aria-labelledby="compte-abonnement">
        <h2 id="compte-abonnement">Abonnement</h2>
        {subscription ? (
          <SubscriptionSummary subscription={subscription} />
        ) : (
          <p>
            Vous n’avez pas d’abonnement pour le moment.{" "}
            <Link to="/tarifs">Voir les forfaits</Link>
          </p>
        )}
      </section>

      {/*
        Still to come on this page, each in its own section with its own
        CSRF-checked form: managing payment in Stripe's billing portal, and
        deleting the account (Law 25).
      */}
    </>
  );
}

export const meta: MetaFunction = () => [{ title: "Mon compte — DictIA" }];
