import { type ReactNode, useState } from 'react';

/**
 * A closed disclosure whose content is made only while it is open: a form inside reads
 * nothing (the trust layer, the identity) until the person opens it.
 */
export function LazyDisclosure({
  summary,
  testId,
  children,
}: {
  summary: ReactNode;
  testId: string;
  children: () => ReactNode;
}) {
  const [open, setOpen] = useState(false);
  return (
    <details
      className="disclosure"
      data-testid={testId}
      onToggle={(event) => setOpen(event.currentTarget.open)}
    >
      <summary>{summary}</summary>
      {open && children()}
    </details>
  );
}
