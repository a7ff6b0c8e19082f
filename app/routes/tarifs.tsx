import { json, type MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";

import { formatCad } from "~/billing/money";
import { PERIOD_LABELS, PERIODS, PLANS, type Period } from "~/billing/plans";
import { newCheckoutAttempt } from "~/billing/checkout.server";
import { getPricing } from "~/billing/prices.server";
import { CheckoutForm } from "~/components/checkout-form";

const PER_PERIOD: Record<Period, string> = {
  monthly: "par mois",
  yearly: "par année",
};

const NOTICES = {
  not_configured:
    "Le paiement en ligne n’est pas encore offert. Revenez bientôt pour vous abonner.",
  unavailable:
    "Les montants ne peuvent pas être affichés pour le moment. Ils vous seront présentés sur la page de paiement sécurisée, avant tout paiement.",
} as const;

export async function loader() {
  const pricing = await getPricing();
  return json({
    status: pricing.status,
    attempt: newCheckoutAttempt(),
    plans: PLANS.map((plan) => {
      const prices = pricing.plans[plan.slug];
      return {
        slug: plan.slug,
        name: plan.name,
        summary: plan.summary,
        features: plan.features,
        offers: PERIODS.map((period) => ({
          period,
          available: prices.periods[period].available,
          amount: prices.periods[period].price?.amount ?? null,
        })),
        hasSetupFee: prices.hasSetupFee,
        setupFee: prices.setupFee?.amount ?? null,
        yearlySaving: prices.yearlySaving?.amount ?? null,
      };
    }),
  });
}

export default function PricingPage() {
  const { status, attempt, plans } = useLoaderData<typeof loader>();
  const canSubscribe = status !== "not_configured";
  return (
    <section aria-labelledby="tarifs-titre">
      <h1 id="tarifs-titre">Tarifs</h1>
      <p>
        Choisissez votre formule et sa période de facturation. Les prix sont en
        dollars canadiens, taxes en sus : la TPS et la TVQ sont calculées à la
        page de paiement.
      </p>
      {status === "ok" ? null : (
        <p className="notice" role="status">
          {NOTICES[status]}
        </p>
      )}
      <div className="plans">
        {plans.map((plan) => (
          <article
            key={plan.slug}
            className="plan"
            aria-labelledby={`plan-${plan.slug}`}
          >
            <h2 id={`plan-${plan.slug}`}>{plan.name}</h2>
            <p>{plan.summary}</p>
            <ul>
              {plan.features.map((feature) => (
                <li key={feature}>{feature}</li>
              ))}
            </ul>
            {plan.hasSetupFee ? (
              <p className="setup-fee">
                {plan.setupFee === null
                  ? "Des frais d’installation uniques s’ajoutent à la première facture."
                  : `Frais d’installation uniques : ${formatCad(plan.setupFee)}, sur la première facture.`}
              </p>
            ) : null}
            {plan.offers.map((offer) => (
              <div key={offer.period} className="offer">
                <h3>{PERIOD_LABELS[offer.period]}</h3>
                {!offer.available ? (
                  <p>Non offert pour le moment.</p>
                ) : (
                  <>
                    {offer.amount === null ? null : (
                      <p>
                        <span className="amount">
                          {formatCad(offer.amount)}
                        </span>{" "}
                        {PER_PERIOD[offer.period]}, taxes en sus
                      </p>
                    )}
                    {offer.period === "yearly" && plan.yearlySaving !== null ? (
                      <p>
                        Économisez {formatCad(plan.yearlySaving)} par rapport à
                        12 paiements mensuels.
                      </p>
                    ) : null}
                    {canSubscribe ? (
                      <CheckoutForm
                        plan={plan.slug}
                        period={offer.period}
                        attempt={attempt}
                      >
                        {`S’abonner à ${plan.name} (${PERIOD_LABELS[offer.period].toLowerCase()})`}
                      </CheckoutForm>
                    ) : null}
                  </>
                )}
              </div>
            ))}
          </article>
        ))}
      </div>
    </section>
  );
}

export const meta: MetaFunction = () => [
  { title: "Tarifs – DictIA" },
  {
    name: "description",
    content:
      "Les formules DictIA 8, DictIA 16 et DictIA Cloud, au mois ou à l’année, en dollars canadiens.",
  },
];
