/** node:test's `skip` for tests that need the native addon: false where it loads, else why not. */
import { loadNativeAddon } from '../../src/core/native/addon';

export function nativeSkip(why = 'native addon not built (npm run build:native)'): false | string {
  try {
    loadNativeAddon();
    return false;
  } catch {
    return why;
  }
}
