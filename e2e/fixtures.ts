import { test as base } from '@playwright/test';
import { openProfile, type Profile } from './support/browser.ts';
import { type DoorwayProcess, startDoorwayProcess } from './support/doorway-process.ts';
import { tempDir } from './support/files.ts';

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

/** A temp folder for a spec's test files: made before its first test, removed after its last. */
export function specFiles(): { readonly dir: string } {
  let made: Awaited<ReturnType<typeof tempDir>> | undefined;
  test.beforeAll(async () => {
    made = await tempDir();
  });
  test.afterAll(async () => {
    await made?.remove();
  });
  return {
    get dir() {
      if (!made) throw new Error('specFiles().dir is there only while the tests run');
      return made.dir;
    },
  };
}

export { expect } from '@playwright/test';
