import { z } from "zod";

const EMAIL_REQUIRED = "Entrez votre adresse courriel.";

/**
 * The email field of the account forms, with its French messages. Built on
 * call and kept server-side, so zod never reaches the browser bundle.
 */
export function emailField() {
  return z
    .string({
      required_error: EMAIL_REQUIRED,
      invalid_type_error: EMAIL_REQUIRED,
    })
    .trim()
    .min(1, EMAIL_REQUIRED)
    .max(254, "Cette adresse courriel est trop longue.")
    .email("Entrez une adresse courriel valide, par exemple nom@exemple.ca.");
}

/** A required text field whose message is `required`. */
export function requiredText(required: string) {
  return z
    .string({ required_error: required, invalid_type_error: required })
    .min(1, required);
}
