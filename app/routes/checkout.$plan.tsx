import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";

import { requireValidCsrf } from "~/auth/csrf.server";
import { redirectWithFlash, requireUser } from "~/auth/session.server";
import { grantsAccess } from "~/billing/access";
import { newCheckoutAttempt, startCheckout } from "~/billing/checkout.server";
import {
  getPlanInfo,
  isPeriod,
  isPlanSlug,
  type Period,
} from "~/billing/plans";
import { getPlanPrices } from "~/billing/plans.server";
import { CheckoutForm } from "~/components/checkout-form";
import { getDb } from "~/db.server";
import type { UserRow } from "~/db/schema";
import { getCurrentSubscriptionForUser } from "~/models/subscription.server";
import { logRedirects } from "~/request-log.server";

const BILLING: Record<Period, string> = {
  monthly: "facturation mensuelle",
  yearly: "facturation annuelle",
};

const MESSAGES = {
  unknownPlan: "Cette formule n’existe pas. Choisissez-en une ci-dessous.",
  badPeriod:
    "Cette période de facturation n’existe pas. Choisissez mensuel ou annuel.",
  unavailable:
    "Cette formule n’est pas offerte pour cette période. Choisissez-en une autre ci-dessous.",
  alreadySubscribed:
    "Vous avez déjà un abonnement actif : vous pouvez le gérer ici.",
} as const;

/** GET confirms and never creates anything: links and prefetches land here. */
export async function loader({ request, params }: LoaderFunctionArgs) {
  return logRedirects(request, async () => {
    const plan = getPlanInfo(params.plan ?? "");
    if (!plan) throw new Response("Offre introuvable", { status: 404 });
    const period = new URL(request.url).searchParams.get("period") ?? "monthly";
    if (!isPeriod(period)) {
      throw await redirectWithFlash(request, "/tarifs", {
        kind: "error",
        message: MESSAGES.badPeriod,
      });
    }
    const user = await requireUser(request);
    if (await hasAccess(user)) {
      throw await redirectWithFlash(request, "/compte", {
        kind: "info",
        message: MESSAGES.alreadySubscribed,
      });
    }
    if (!getPlanPrices(plan.slug, period).recurring) {
      throw await redirectWithFlash(request, "/tarifs", {
        kind: "error",
        message: MESSAGES.unavailable,
      });
    }
    return json({
      plan: { slug: plan.slug, name: plan.name, features: plan.features },
      period,
      attempt: newCheckoutAttempt(),
    });
  });
}

export async function action({ request, params }: ActionFunctionArgs) {
  return logRedirects(request, async () => {
    await requireValidCsrf(request);
    const form = await request.formData();
    const slug = params.plan ?? "";
    const period = form.get("period") ?? "monthly";
    // After logging in, the visitor comes back to the confirmation page.
    const user = await requireUser(
      request,
      isPlanSlug(slug) && isPeriod(period)
        ? `/checkout/${slug}?period=${period}`
        : "/tarifs",
    );

    if (!isPlanSlug(slug)) {
      return rejected(
        request,
        `unknown plan user=${user.id}`,
        MESSAGES.unknownPlan,
      );
    }
    if (!isPeriod(period)) {
      return rejected(
        request,
        `bad period user=${user.id} plan=${slug}`,
        MESSAGES.badPeriod,
      );
    }
    if (await hasAccess(user)) {
      console.info(
        `[checkout] already subscribed user=${user.id} plan=${slug} period=${period}`,
      );
      return redirectWithFlash(
        request,
        "/compte",
        { kind: "info", message: MESSAGES.alreadySubscribed },
        { status: 303 },
      );
    }

    const attempt = form.get("attempt");
    const result = await startCheckout({
      user,
      plan: slug,
      period,
      attempt: typeof attempt === "string" ? attempt : undefined,
    });
    if (!result.ok) {
      // startCheckout has logged the failure with its ids.
      return redirectWithFlash(
        request,
        "/tarifs",
        { kind: "error", message: result.message },
        { status: 303 },
      );
    }
    // 303: the browser follows with a GET, never re-posting the form.
    return redirect(result.url, 303);
  });
}

export default function CheckoutConfirmation() {
  const { plan, period, attempt } = useLoaderData<typeof loader>();
  return (
    <section aria-labelledby="confirmation-titre">
      <h1 id="confirmation-titre">Confirmer votre abonnement</h1>
      <p>
        Formule <strong>{plan.name}</strong>, {BILLING[period]}.
      </p>
      <ul>
        {plan.features.map((feature) => (
          <li key={feature}>{feature}</li>
        ))}
      </ul>
      <p>
        Le paiement se fait sur la page sécurisée de Stripe, qui affiche le
        montant et les taxes avant tout prélèvement.
      </p>
      <CheckoutForm plan={plan.slug} period={period} attempt={attempt}>
        Continuer vers le paiement
      </CheckoutForm>
      <p>
        <Link to="/tarifs">Retour aux tarifs</Link>
      </p>
    </section>
  );
}

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  {
    title: data
      ? `Confirmer l’abonnement ${data.plan.name} – DictIA`
      : "Confirmer l’abonnement – DictIA",
  },
];

async function hasAccess(user: UserRow): Promise<boolean> {
  const current = await getCurrentSubscriptionForUser(await getDb(), user.id);
  return grantsAccess(current?.status);
}

function rejected(request: Request, reason: string, message: string) {
  console.warn(`[checkout] rejected: ${reason}`);
  return redirectWithFlash(
    request,
    "/tarifs",
    { kind: "error", message },
    { status: 303 },
  );
}
