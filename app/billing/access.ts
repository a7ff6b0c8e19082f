// Shared by the server and the browser.

/** Stripe's subscription statuses, stored as Stripe spells them. */
export const SUBSCRIPTION_STATUSES = [
  "trialing",
  "active",
  "past_due",
  "unpaid",
  "paused",
  "incomplete",
  "incomplete_expired",
  "canceled",
] as const;

export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

// past_due still grants access: Stripe is retrying the payment, and cutting
// a paying customer off during a card hiccup costs more than it saves.
const GRANTING = new Set<string>(["active", "trialing", "past_due"]);

export function grantsAccess(status: string | null | undefined): boolean {
  return status != null && GRANTING.has(status);
}

export const STATUS_LABELS: Record<SubscriptionStatus, string> = {
  trialing: "Période d’essai",
  active: "Actif",
  past_due: "Paiement en retard",
  unpaid: "Impayé",
  paused: "En pause",
  incomplete: "Paiement en attente",
  incomplete_expired: "Paiement expiré",
  canceled: "Annulé",
};

/** The French word for a status; an unknown future status is shown as is. */
export function statusLabel(status: string | null | undefined): string {
  if (status == null) return "Aucun abonnement";
  return STATUS_LABELS[status as SubscriptionStatus] ?? status;
}
