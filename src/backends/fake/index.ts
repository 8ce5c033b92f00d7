export {
  FakeBackend,
  FakeProcess,
  type FakeBackendOptions,
  type FakeEvent,
  type FakeScript,
  type FakeScriptChooser,
  type FakeSignal,
  type FakeWorld,
} from './fake-backend.js';
