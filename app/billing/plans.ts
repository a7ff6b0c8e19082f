// Shared by the server and the browser: names and words, never Price ids.

export const PLAN_SLUGS = ["dictia-8", "dictia-16", "dictia-cloud"] as const;
export const PERIODS = ["monthly", "yearly"] as const;

export type PlanSlug = (typeof PLAN_SLUGS)[number];
export type Period = (typeof PERIODS)[number];

export type PlanInfo = {
  slug: PlanSlug;
  name: string;
  summary: string;
  features: string[];
};

export const PLANS: readonly PlanInfo[] = [
  {
    slug: "dictia-8",
    name: "DictIA 8",
    summary: "Pour une personne qui dicte quelques heures par semaine.",
    features: [
      "8 heures de dictée par mois",
      "Un poste",
      "Soutien par courriel",
    ],
  },
  {
    slug: "dictia-16",
    name: "DictIA 16",
    summary: "Pour les professionnels qui dictent tous les jours.",
    features: [
      "16 heures de dictée par mois",
      "Deux postes",
      "Vocabulaire spécialisé",
    ],
  },
  {
    slug: "dictia-cloud",
    name: "DictIA Cloud",
    summary: "Pour les équipes : dictée illimitée hébergée au Québec.",
    features: [
      "Dictée illimitée",
      "Postes illimités",
      "Hébergement des données au Québec",
    ],
  },
];

export const PERIOD_LABELS: Record<Period, string> = {
  monthly: "Mensuel",
  yearly: "Annuel",
};

export function isPlanSlug(value: unknown): value is PlanSlug {
  return (PLAN_SLUGS as readonly unknown[]).includes(value);
}

export function isPeriod(value: unknown): value is Period {
  return (PERIODS as readonly unknown[]).includes(value);
}

export function getPlanInfo(slug: string): PlanInfo | undefined {
  return PLANS.find((plan) => plan.slug === slug);
}
