import {
  useEffect,
  type ComponentPropsWithoutRef,
  type ReactNode,
  type RefObject,
} from "react";

type FormFieldProps = Omit<
  ComponentPropsWithoutRef<"input">,
  "id" | "aria-invalid" | "aria-describedby"
> & {
  id: string;
  label: string;
  inputRef?: RefObject<HTMLInputElement>;
  /** This field's own message; it gets the id `<id>-erreur`. */
  error?: string;
  /** Marks the field invalid for a message shown elsewhere (a form's). */
  invalid?: boolean;
  /** Other elements that describe the field: a hint, a form's message. */
  describedBy?: (string | false | undefined)[];
  /** Shown between the field and its message (a hint, say). */
  children?: ReactNode;
};

/**
 * A labelled input with its message: the error is linked to the field by
 * `aria-describedby` and the field marked invalid, so a screen reader reads
 * the message when the field gets focus.
 */
export function FormField({
  id,
  label,
  inputRef,
  error,
  invalid,
  describedBy = [],
  children,
  ...input
}: FormFieldProps) {
  const errorId = `${id}-erreur`;
  const described = [error && errorId, ...describedBy].filter(Boolean);
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <input
        ref={inputRef}
        id={id}
        aria-invalid={error || invalid ? true : undefined}
        aria-describedby={described.length ? described.join(" ") : undefined}
        {...input}
      />
      {children}
      {error ? (
        <p id={errorId} className="field-error">
          {error}
        </p>
      ) : null}
    </>
  );
}

type InputRef = RefObject<HTMLInputElement>;

/**
 * The first of the fields marked invalid, focused after each answer of the
 * action. Give it to `autoFocus` too: that covers the page the server
 * renders without JavaScript; after a submission through the router the
 * field already exists, so it is focused by hand.
 */
export function useFirstInvalidField(
  answer: unknown,
  fields: [invalid: boolean, ref: InputRef][],
): InputRef | null {
  const first = fields.find(([invalid]) => invalid)?.[1] ?? null;
  useEffect(() => {
    first?.current?.focus();
  }, [answer, first]);
  return first;
}
