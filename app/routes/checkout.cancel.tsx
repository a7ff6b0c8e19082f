import type { MetaFunction } from "@remix-run/node";
import { Link } from "@remix-run/react";

export default function CheckoutCanceled() {
  return (
    <section aria-labelledby="annulation-titre">
      <h1 id="annulation-titre">Paiement annulé</h1>
      <p>
        Vous avez quitté la page de paiement : aucun montant prélevé, et aucun
        abonnement n’a été créé.
      </p>
      <p>
        <Link to="/tarifs">Retour aux tarifs</Link>
      </p>
    </section>
  );
}

export const meta: MetaFunction = () => [{ title: "Paiement annulé – DictIA" }];
