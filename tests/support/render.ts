import { Outlet } from "@remix-run/react";
import { createRemixStub } from "@remix-run/testing";
import { createElement, type ComponentType } from "react";
import { renderToString } from "react-dom/server";
import { AuthenticityTokenProvider } from "remix-utils/csrf/react";

/** The CSRF token the root would hand to every form. */
export const RENDER_CSRF_TOKEN = "jeton-csrf-de-rendu";

/**
 * The HTML a route's component renders on the server for `url`, given the
 * data its loader and action returned (read them from real calls). React's
 * `<!-- -->` markers between adjacent texts are removed, so a sentence with
 * a value inside reads as one string.
 */
export function renderRoute(options: {
  url: string;
  Component: ComponentType;
  loaderData?: unknown;
  actionData?: unknown;
}): string {
  const { pathname } = new URL(options.url, "https://dictia.test");
  const RemixStub = createRemixStub([
    {
      id: "root",
      path: "/",
      Component: () =>
        createElement(AuthenticityTokenProvider, {
          token: RENDER_CSRF_TOKEN,
          children: createElement(Outlet),
        }),
      children: [
        { id: "page", path: pathname.slice(1), Component: options.Component },
      ],
    },
  ]);
  const html = withoutLayoutEffectWarnings(() =>
    renderToString(
      createElement(RemixStub, {
        initialEntries: [options.url],
        hydrationData: {
          loaderData: { root: null, page: options.loaderData },
          actionData:
            options.actionData === undefined
              ? null
              : { page: options.actionData },
        },
      }),
    ),
  );
  return html.replaceAll("<!-- -->", "");
}

/**
 * The whole document the root renders for `url` (header, flash, nav), given
 * the root loader's data; no child route.
 */
export function renderDocument(options: {
  url: string;
  Root: ComponentType;
  rootData: unknown;
}): string {
  const RemixStub = createRemixStub([
    { id: "root", path: "/", Component: options.Root },
  ]);
  const html = withoutLayoutEffectWarnings(() =>
    renderToString(
      createElement(RemixStub, {
        initialEntries: [options.url],
        hydrationData: { loaderData: { root: options.rootData } },
      }),
    ),
  );
  return html.replaceAll("<!-- -->", "");
}

// The stub's router is made for the browser and uses layout effects, which
// React reports when it renders on the server. Only that warning is dropped;
// any other error still shows.
function withoutLayoutEffectWarnings<T>(render: () => T): T {
  const consoleError = console.error;
  console.error = (...args: unknown[]) => {
    const [message] = args;
    if (
      typeof message === "string" &&
      message.startsWith("Warning: useLayoutEffect does nothing on the server")
    ) {
      return;
    }
    consoleError(...args);
  };
  try {
    return render();
  } finally {
    console.error = consoleError;
  }
}

/** The opening tag of the element with this id, to check its attributes. */
export function tagWithId(html: string, id: string): string {
  const tag = html.match(new RegExp(`<[a-z]+ [^>]*id="${id}"[^>]*>`));
  if (!tag) throw new Error(`No element with id="${id}" in the page`);
  return tag[0];
}

/** The text inside the element with this id. */
export function textOfId(html: string, id: string): string {
  const element = html.match(
    new RegExp(`<([a-z]+) [^>]*id="${id}"[^>]*>(.*?)</\\1>`),
  );
  if (!element) throw new Error(`No element with id="${id}" in the page`);
  return (element[2] ?? "").replace(/<[^>]+>/g, "");
}
