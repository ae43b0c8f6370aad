import { test as base } from '@playwright/test';
import { openProfile, type Profile } from './support/browser.ts';
import { type DoorwayProcess, startDoorwayProcess } from './support/doorway-process.ts';

interface TestFixtures {
  /** Opens a new persistent browser profile; all are closed and deleted after the test. */
  openProfile: () => Promise<Profile>;
}

interface WorkerFixtures {
  doorway: DoorwayProcess;
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  doorway: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright fixtures take their deps by destructuring.
    async ({}, use) => {
      const doorway = await startDoorwayProcess();
      await use(doorway);
      await doorway.stop();
    },
    { scope: 'worker' },
  ],
  // biome-ignore lint/correctness/noEmptyPattern: Playwright fixtures take their deps by destructuring.
  openProfile: async ({}, use) => {
    const profiles: Profile[] = [];
    await use(async () => {
      const profile = await openProfile();
      profiles.push(profile);
      return profile;
    });
    await Promise.all(profiles.map((profile) => profile.close()));
  },
});

export { expect } from '@playwright/test';
