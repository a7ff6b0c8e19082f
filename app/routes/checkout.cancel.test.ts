import { expect, test } from "vitest";

import { renderRoute } from "../../tests/support/render";

import CheckoutCanceled from "./checkout.cancel";

test("the cancel page says nothing was charged and leads back to the pricing page", () => {
  const html = renderRoute({
    url: "/checkout/cancel",
    Component: CheckoutCanceled,
  });

  expect(html).toContain("aucun montant prélevé");
  expect(html).toMatch(/<a [^>]*href="\/tarifs"[^>]*>Retour aux tarifs<\/a>/);
});
