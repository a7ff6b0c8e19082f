import { useFormAction, useNavigation } from "@remix-run/react";
import type { ComponentPropsWithoutRef, ReactNode } from "react";

type SubmitButtonProps = Omit<
  ComponentPropsWithoutRef<"button">,
  "type" | "children"
> & {
  children: ReactNode;
  /** What the button says while its form is being sent. */
  pendingLabel: string;
  /** The form's action when it is not the current route's. */
  action?: string;
};

/**
 * A submit button that shows its pending label and is disabled while its
 * form is on its way, so a second click cannot send it twice. Without
 * JavaScript it is a plain button: the browser shows its own progress, and
 * each action copes with a repeated submission.
 */
export function SubmitButton({
  children,
  pendingLabel,
  action,
  name,
  value,
  disabled,
  ...rest
}: SubmitButtonProps) {
  const navigation = useNavigation();
  const currentAction = useFormAction();
  const target = action ?? currentAction;
  const pending =
    // "loading" too: after the action, until the next page is shown.
    navigation.state !== "idle" &&
    navigation.formAction === target &&
    (name === undefined ||
      navigation.formData?.get(name) === String(value ?? ""));
  return (
    <button
      {...rest}
      type="submit"
      name={name}
      value={value}
      disabled={disabled || pending}
      aria-busy={pending || undefined}
    >
      {pending ? pendingLabel : children}
    </button>
  );
}
