// Shared by the server and the browser, so hydration never changes a figure.

const CAD = new Intl.NumberFormat("fr-CA", {
  style: "currency",
  currency: "CAD",
});

/** `2900` → « 29,00 $ »: Stripe amounts are in cents. */
export function formatCad(cents: number): string {
  return CAD.format(cents / 100);
}
