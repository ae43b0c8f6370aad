import { type MouseEvent, type SyntheticEvent, useEffect, useRef } from 'react';

export interface ModalDialogOptions {
  /** On closing, give focus back to what had it when the dialog opened. */
  returnFocus?: boolean;
  /**
   * The dialog is shown inside another: its Esc and clicks stay its own (React passes
   * `cancel` and `click` up its own tree, so the outer dialog would close on the same Esc).
   */
  nested?: boolean;
}

/**
 * A modal `<dialog>` while the component is mounted: the browser makes the page behind inert
 * and turns Esc into `cancel`, which goes to `onClose`, as does a click on the backdrop (it
 * lands on the `<dialog>` itself, outside its inner box), so React stays the one deciding
 * whether it is open. Spread the result on the `<dialog>`.
 */
export function useModalDialog(onClose: () => void, options: ModalDialogOptions = {}) {
  const ref = useRef<HTMLDialogElement>(null);
  const { returnFocus = false, nested = false } = options;
  useEffect(() => {
    const element = ref.current;
    const opener =
      returnFocus && document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (element && !element.open) element.showModal();
    return () => {
      element?.close();
      opener?.focus();
    };
  }, [returnFocus]);
  return {
    ref,
    onCancel: (event: SyntheticEvent<HTMLDialogElement>) => {
      event.preventDefault();
      if (nested) event.stopPropagation();
      onClose();
    },
    onClick: (event: MouseEvent<HTMLDialogElement>) => {
      if (nested) event.stopPropagation();
      if (event.target === event.currentTarget) onClose();
    },
  };
}
