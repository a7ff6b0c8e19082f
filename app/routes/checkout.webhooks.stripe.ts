import type { ActionFunctionArgs } from "@remix-run/node";

import { receiveStripeWebhook } from "~/billing/webhook.server";

// A resource route: no component, no CSRF (Stripe signs instead), and the
// body is read raw, once, by the handler.
export async function action({ request }: ActionFunctionArgs) {
  return receiveStripeWebhook(request);
}

export async function loader({ request }: ActionFunctionArgs) {
  return receiveStripeWebhook(request);
}
