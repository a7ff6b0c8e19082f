import {
  json,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";

import { requireUser } from "~/auth/session.server";
import { grantsAccess } from "~/billing/access";
import { getPlanInfo } from "~/billing/plans";
import { describeStripeError } from "~/billing/stripe-errors.server";
import { Stripe, getStripe } from "~/billing/stripe.server";
import { getDb } from "~/db.server";
import type { UserRow } from "~/db/schema";
import { getCurrentSubscriptionForUser } from "~/models/subscription.server";
import { logRedirects } from "~/request-log.server";

/**
 * `pending`: paid, the webhook has not landed yet. `processing`: a delayed
 * payment method has not cleared. `incomplete`: the session was not paid.
 * `missing`: no such session, or not this user's (the same words for both).
 */
type SuccessState =
  | "active"
  | "pending"
  | "processing"
  | "incomplete"
  | "missing"
  | "unavailable";

const SESSION_ID = /^cs_[A-Za-z0-9_]{1,250}$/;
const REFRESH_SECONDS = 5;

export async function loader({ request }: LoaderFunctionArgs) {
  return logRedirects(request, async () => {
    const user = await requireUser(request);
    const sessionId = new URL(request.url).searchParams.get("session_id");
    if (!sessionId || !SESSION_ID.test(sessionId)) {
      return state("missing");
    }
    const stripe = getStripe();
    if (!stripe) return state("unavailable");

    let session: Stripe.Checkout.Session;
    try {
      session = await stripe.checkout.sessions.retrieve(sessionId);
    } catch (error) {
      if (
        error instanceof Stripe.errors.StripeInvalidRequestError &&
        error.code === "resource_missing"
      ) {
        return state("missing");
      }
      console.error(
        `[checkout] success page cannot read session=${sessionId} user=${user.id}: ${describeStripeError(error)}`,
      );
      return state("unavailable");
    }
    if (!belongsTo(session, user)) {
      console.warn(
        `[checkout] session=${sessionId} is not user=${user.id}'s: not shown`,
      );
      return state("missing");
    }

    const planName = getPlanInfo(session.metadata?.plan ?? "")?.name ?? null;
    const current = await getCurrentSubscriptionForUser(await getDb(), user.id);
    // The webhook is the only writer of subscription state: wait for its row.
    if (grantsAccess(current?.status)) return state("active", planName);
    if (session.status !== "complete") return state("incomplete", planName);
    if (session.payment_status === "unpaid") {
      return state("processing", planName);
    }
    return state("pending", planName);
  });
}

export default function CheckoutSuccess() {
  const { state, planName } = useLoaderData<typeof loader>();
  const plan = planName ? `« ${planName} »` : "";
  switch (state) {
    case "active":
      return (
        <Page title="Votre abonnement est actif">
          <p>Merci ! Votre abonnement {plan} est actif.</p>
          <p>
            <Link to="/compte">Voir mon compte</Link>
          </p>
        </Page>
      );
    case "pending":
      return (
        <Page title="Merci ! Activation en cours">
          <p>
            Votre paiement est reçu. Activation en cours de votre abonnement{" "}
            {plan} : cela prend habituellement quelques secondes, au plus
            quelques minutes.
          </p>
          <p>Cette page se met à jour d’elle-même.</p>
          <p>
            <Link to="/compte">Aller à mon compte</Link>
          </p>
        </Page>
      );
    case "processing":
      return (
        <Page title="Paiement en traitement">
          <p>
            Votre paiement est en cours de traitement. Votre abonnement {plan}{" "}
            sera activé dès sa confirmation, ce qui peut prendre quelques jours
            ouvrables pour un prélèvement bancaire.
          </p>
          <p>
            <Link to="/compte">Aller à mon compte</Link>
          </p>
        </Page>
      );
    case "incomplete":
      return (
        <Page title="Paiement non terminé">
          <p>
            Ce paiement n’a pas été terminé : aucun montant n’a été prélevé.
          </p>
          <p>
            <Link to="/tarifs">Retour aux tarifs</Link>
          </p>
        </Page>
      );
    case "missing":
      return (
        <Page title="Paiement introuvable">
          <p>
            Nous ne trouvons pas ce paiement dans votre compte. Si vous venez de
            vous abonner, votre compte indiquera l’abonnement dès son
            activation.
          </p>
          <p>
            <Link to="/compte">Aller à mon compte</Link> ·{" "}
            <Link to="/tarifs">Voir les tarifs</Link>
          </p>
        </Page>
      );
    case "unavailable":
      return (
        <Page title="Merci !">
          <p>
            Nous ne pouvons pas vérifier votre paiement pour le moment. S’il a
            été accepté, votre abonnement sera activé sous quelques minutes et
            affiché dans votre compte.
          </p>
          <p>
            <Link to="/compte">Aller à mon compte</Link>
          </p>
        </Page>
      );
  }
}

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  {
    title:
      data?.state === "active"
        ? "Abonnement actif – DictIA"
        : "Confirmation du paiement – DictIA",
  },
  // A refresh that works without JavaScript, until the webhook has landed.
  ...(data?.state === "pending"
    ? [{ httpEquiv: "refresh", content: String(REFRESH_SECONDS) }]
    : []),
];

function Page({
  title,
  children,
}: {
  title: string;
  children: React.ReactNode;
}) {
  return (
    <section aria-labelledby="succes-titre">
      <h1 id="succes-titre">{title}</h1>
      {children}
    </section>
  );
}

function state(value: SuccessState, planName: string | null = null) {
  return json({ state: value, planName });
}

/** Ours when we created it for this user, or when it bills their customer. */
function belongsTo(session: Stripe.Checkout.Session, user: UserRow): boolean {
  const userId = String(user.id);
  if (session.client_reference_id === userId) return true;
  if (session.metadata?.dictia_user_id === userId) return true;
  const customerId =
    typeof session.customer === "string"
      ? session.customer
      : (session.customer?.id ?? null);
  return customerId !== null && customerId === user.stripe_customer_id;
}
