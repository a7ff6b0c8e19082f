import type { Outgoing } from "./load";

const PASSWORD = "banc-d-essai-42";

/** A logged-in visitor who can start Checkout over and over. */
export type CheckoutVisitor = {
  checkoutRequest(period: "monthly" | "yearly", attempt: number): Outgoing;
};

/**
 * Signs up through /inscription like a browser without JavaScript: the
 * form's fields (CSRF token, honeypot) as the page rendered them, and the
 * cookies the server set. The CSRF token stays valid for the session, so
 * every pricing form posted afterwards can reuse it.
 */
export async function signUpForCheckout(
  origin: string,
  email: string,
): Promise<CheckoutVisitor> {
  const cookies = new Map<string, string>();
  const keep = (response: Response) => {
    for (const setCookie of response.headers.getSetCookie()) {
      const pair = setCookie.split(";")[0] ?? "";
      const separator = pair.indexOf("=");
      cookies.set(pair.slice(0, separator), pair.slice(separator + 1));
    }
  };
  const cookieHeader = () =>
    [...cookies].map(([name, value]) => `${name}=${value}`).join("; ");

  const page = await fetch(`${origin}/inscription`);
  keep(page);
  const fields = formFields(await page.text(), "email");
  const token = fields.get("csrf");
  if (!token) throw new Error("No CSRF token on /inscription");
  fields.set("email", email);
  fields.set("password", PASSWORD);
  const signedUp = await fetch(`${origin}/inscription`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Cookie: cookieHeader(),
    },
    body: new URLSearchParams([...fields]),
    redirect: "manual",
  });
  await signedUp.arrayBuffer();
  if (signedUp.status !== 302) {
    throw new Error(`Sign-up of ${email} answered ${signedUp.status}`);
  }
  keep(signedUp);
  const cookie = cookieHeader();

  return {
    checkoutRequest(period, attempt) {
      // A new nonce per request, as a new page view would have: each POST
      // is a Checkout of its own, not an idempotent replay.
      const body = new URLSearchParams({
        csrf: token,
        period,
        attempt: `bench${attempt.toString(36).padStart(16, "0")}`,
      }).toString();
      return {
        tag: String(attempt),
        body,
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          cookie,
        },
      };
    },
  };
}

/** The fields of the page's form that has a field named `withField`. */
function formFields(html: string, withField: string): Map<string, string> {
  for (const [, inner = ""] of html.matchAll(
    /<form\b[^>]*>([\s\S]*?)<\/form>/g,
  )) {
    const fields = new Map<string, string>();
    for (const [input = ""] of inner.matchAll(/<input\b[^>]*>/g)) {
      const name = /\sname="([^"]*)"/.exec(input)?.[1];
      if (name !== undefined) {
        fields.set(
          name,
          decodeHtml(/\svalue="([^"]*)"/.exec(input)?.[1] ?? ""),
        );
      }
    }
    if (fields.has(withField)) return fields;
  }
  throw new Error(`No form with a "${withField}" field`);
}

function decodeHtml(text: string): string {
  return text
    .replaceAll("&quot;", '"')
    .replaceAll("&#x27;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
}
