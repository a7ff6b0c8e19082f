import { Form, useNavigation } from "@remix-run/react";
import type { ReactNode } from "react";
import { AuthenticityTokenInput } from "remix-utils/csrf/react";

import type { Period, PlanSlug } from "~/billing/plans";

/**
 * The button that starts a Checkout: a plain POST form, so it works without
 * JavaScript. While one checkout is starting, every such button is disabled.
 */
export function CheckoutForm({
  plan,
  period,
  attempt,
  children,
}: {
  plan: PlanSlug;
  period: Period;
  /** The page view's nonce: a double submit of this form is one Checkout. */
  attempt: string;
  children: ReactNode;
}) {
  const navigation = useNavigation();
  const action = `/checkout/${plan}`;
  const busy =
    navigation.state !== "idle" &&
    (navigation.formAction?.startsWith("/checkout/") ?? false);
  const mine =
    busy &&
    navigation.formAction === action &&
    navigation.formData?.get("period") === period;
  return (
    <Form method="post" action={action}>
      <AuthenticityTokenInput />
      <input type="hidden" name="period" value={period} />
      <input type="hidden" name="attempt" value={attempt} />
      <button type="submit" disabled={busy} aria-busy={mine}>
        {mine ? "Redirection vers le paiement…" : children}
      </button>
    </Form>
  );
}
