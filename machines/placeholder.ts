/**
 * Type-only placeholders for effects (STYLE principle 3). A machine names the actors it needs
 * (`transport`, `handler`, `admission`, ...) and declares only their TYPE here; `runtime/` (or a
 * spec, or your app) supplies the body with `machine.provide({ actors: { ... } })`.
 * Unlike Kibana's getPlaceholderFor, this takes no factory value, so no effect module is pulled
 * into machines/.
 */
import { fromCallback, type AnyActorLogic } from 'xstate';

export function placeholder<TLogic extends AnyActorLogic>(name: string): TLogic {
  return fromCallback(() => {
    throw new Error(`switchboard: the "${name}" actor was not provided; supply it with machine.provide({ actors: { ${name}: ... } })`);
  }) as unknown as TLogic;
}
