import type { LinksFunction, LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import {
  Form,
  isRouteErrorResponse,
  Link,
  Links,
  Meta,
  NavLink,
  Outlet,
  Scripts,
  ScrollRestoration,
  useLoaderData,
  useRouteError,
  useRouteLoaderData,
} from "@remix-run/react";
import {
  AuthenticityTokenInput,
  AuthenticityTokenProvider,
} from "remix-utils/csrf/react";

import { commitCsrfToken } from "~/auth/csrf.server";
import { commitSession, getSession, getUser } from "~/auth/session.server";
import { SubmitButton } from "~/components/submit-button";
import stylesHref from "~/styles.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: stylesHref },
];

export async function loader({ request }: LoaderFunctionArgs) {
  const [csrfToken, csrfCookie] = await commitCsrfToken(request);
  const session = await getSession(request);
  const flash = session.get("flash") ?? null;
  const user = await getUser(request);
  const headers = new Headers();
  if (csrfCookie) headers.append("Set-Cookie", csrfCookie);
  // Reading a flash consumes it: commit so it is shown only once.
  if (flash) headers.append("Set-Cookie", await commitSession(session));
  return json(
    {
      csrfToken,
      flash,
      user: user ? { email: user.email } : null,
    },
    { headers },
  );
}

export function Layout({ children }: { children: React.ReactNode }) {
  const data = useRouteLoaderData<typeof loader>("root");
  return (
    <html lang="fr-CA">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        <a className="skip-link" href="#contenu">
          Aller au contenu
        </a>
        <header className="site-header">
          <Link to="/tarifs" className="brand">
            DictIA
          </Link>
          <nav aria-label="Navigation principale">
            <NavLink to="/tarifs">Tarifs</NavLink>
            {data?.user ? (
              <>
                <NavLink to="/compte">Mon compte</NavLink>
                <Form method="post" action="/deconnexion" className="inline">
                  {/* The header is outside App's provider: give it the token. */}
                  <AuthenticityTokenProvider token={data.csrfToken}>
                    <AuthenticityTokenInput />
                  </AuthenticityTokenProvider>
                  <SubmitButton
                    action="/deconnexion"
                    className="link-button"
                    pendingLabel="Déconnexion…"
                  >
                    Se déconnecter
                  </SubmitButton>
                </Form>
              </>
            ) : (
              <>
                <NavLink to="/connexion">Se connecter</NavLink>
                <NavLink to="/inscription">Créer un compte</NavLink>
              </>
            )}
          </nav>
        </header>
        {data?.flash ? (
          <p
            className={`flash flash-${data.flash.kind}`}
            role={data.flash.kind === "error" ? "alert" : "status"}
          >
            {data.flash.message}
          </p>
        ) : null}
        <main id="contenu">{children}</main>
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

export default function App() {
  const { csrfToken } = useLoaderData<typeof loader>();
  return (
    <AuthenticityTokenProvider token={csrfToken}>
      <Outlet />
    </AuthenticityTokenProvider>
  );
}

export function ErrorBoundary() {
  const error = useRouteError();
  const notFound = isRouteErrorResponse(error) && error.status === 404;
  return (
    <section>
      <h1>{notFound ? "Page introuvable" : "Une erreur est survenue"}</h1>
      <p>
        {notFound
          ? "Cette page n’existe pas ou n’existe plus."
          : "Veuillez réessayer dans un instant. Aucun montant n’a été prélevé."}
      </p>
      <p>
        <Link to="/tarifs">Retour aux tarifs</Link>
      </p>
    </section>
  );
}
