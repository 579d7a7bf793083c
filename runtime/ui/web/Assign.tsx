/** Assign a task: pick a service and operation; the form comes from the operation's JSON Schema. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ServiceRow } from '../rows.js';
import { fieldsOf, initialText, paramsOf, type Field, type JsonSchema } from './schema.js';
import { api, ApiError, store, useStore } from './store.js';
import { TaskPanel } from './TaskPanel.js';

const SETTING_TYPES: Record<string, string> = { string: 'string', int: 'integer', float: 'number', bool: 'boolean' };

/** A capability without a schema (a seed-only provider): its settings, all required. */
function schemaFromSettings(settings: readonly { type: string; name: string }[]): JsonSchema {
  return {
    type: 'object',
    properties: Object.fromEntries(settings.map((setting) => [setting.name, SETTING_TYPES[setting.type] ? { type: SETTING_TYPES[setting.type] } : {}])),
    required: settings.map((setting) => setting.name),
  };
}

export function Assign({ query }: { query: URLSearchParams }) {
  const services = useStore(() => store.services);
  useStore(() => store.version);
  const live = [...services.values()].filter((row) => row.endedAtMs === undefined);
  const names = [...new Set(live.map((row) => row.serviceName))].sort();
  const [serviceName, setServiceName] = useState(query.get('service') ?? '');
  const instance: ServiceRow | undefined = live.find((row) => row.serviceName === serviceName);
  const operations = instance?.capabilities ?? [];
  const [operation, setOperation] = useState(query.get('operation') ?? '');
  const capability = operations.find((item) => item.key === operation) ?? operations[0];
  // Every advertisement brings a new copy of the capability: the form follows its content, so a
  // heartbeat never resets what the user typed.
  const schemaText = capability ? JSON.stringify(capability.schema ?? schemaFromSettings(capability.settings)) : '';
  const fields = useMemo(() => (schemaText === '' ? [] : fieldsOf(JSON.parse(schemaText) as JsonSchema)), [schemaText]);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [timeoutText, setTimeoutText] = useState('');
  const [submitError, setSubmitError] = useState<string | undefined>();
  const [taskKey, setTaskKey] = useState<string | undefined>();
  useEffect(() => {
    if (serviceName === '' && names[0] !== undefined) setServiceName(names[0]);
  }, [names.join('|')]);
  useEffect(() => {
    setTexts(Object.fromEntries(fields.map((field) => [field.name, initialText(field)])));
    setErrors({});
  }, [serviceName, fields]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setSubmitError(undefined);
    if (!capability) return;
    const { params, errors: found } = paramsOf(fields, texts);
    const timeoutMs = timeoutText.trim() === '' ? undefined : Number(timeoutText);
    if (timeoutMs !== undefined && (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1)) found.__timeout = 'a whole number of milliseconds';
    setErrors(found);
    if (Object.keys(found).length > 0) {
      const first = Object.keys(found)[0];
      document.getElementById(`field-${first}`)?.focus();
      return;
    }
    try {
      const answer = await api<{ key: string }>('/api/assign', { serviceName, operation: capability.key, params, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
      setTaskKey(answer.key);
    } catch (error) {
      setSubmitError(error instanceof ApiError ? `${error.code}: ${error.message}` : String(error));
    }
  };

  if (store.participants.clientId === undefined) {
    return (
      <section aria-labelledby="assign-title">
        <h1 id="assign-title" tabIndex={-1}>Assign a task</h1>
        <p>This process hosts a provider only; start the UI from a client (switchboard ui) to assign tasks.</p>
      </section>
    );
  }
  return (
    <section aria-labelledby="assign-title" class="assign">
      <h1 id="assign-title" tabIndex={-1}>Assign a task</h1>
      <form onSubmit={submit} noValidate aria-describedby="assign-help">
        <p id="assign-help" class="muted">
          The form follows the operation's parameter schema; the provider checks the parameters again before it runs the task.
        </p>
        <div class="row-fields">
          <label class="field">
            <span>Service</span>
            <select value={serviceName} onChange={(event) => setServiceName(event.currentTarget.value)} required>
              {names.length === 0 ? <option value="">no service known yet</option> : null}
              {names.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span>Operation</span>
            <select value={capability?.key ?? ''} onChange={(event) => setOperation(event.currentTarget.value)}>
              {operations.map((item) => (
                <option key={item.key} value={item.key}>
                  {item.key}
                </option>
              ))}
            </select>
          </label>
        </div>
        <fieldset>
          <legend>Parameters{capability ? ` of ${capability.key}` : ''}</legend>
          {fields.length === 0 ? <p class="muted">No parameters.</p> : null}
          {fields.map((field) => (
            <FieldInput key={field.name} field={field} text={texts[field.name] ?? ''} error={errors[field.name]} onText={(text) => setTexts({ ...texts, [field.name]: text })} />
          ))}
          <label class="field">
            <span>Deadline (ms, optional)</span>
            <input id="field-__timeout" inputMode="numeric" value={timeoutText} onInput={(event) => setTimeoutText(event.currentTarget.value)} aria-invalid={errors.__timeout ? 'true' : 'false'} aria-describedby={errors.__timeout ? 'error-__timeout' : undefined} />
            {errors.__timeout ? <span id="error-__timeout" class="error">{errors.__timeout}</span> : null}
          </label>
        </fieldset>
        <button type="submit" class="primary" disabled={!capability}>
          Assign
        </button>
        {submitError ? (
          <p role="alert" class="error">
            {submitError}
          </p>
        ) : null}
        {Object.keys(errors).length > 0 ? (
          <p role="alert" class="error">
            Fix the highlighted parameters first.
          </p>
        ) : null}
      </form>
      {taskKey ? (
        <section aria-label="The task you assigned" class="card">
          <h2>Your task</h2>
          <TaskPanel taskKey={taskKey} />
        </section>
      ) : null}
    </section>
  );
}

function FieldInput({ field, text, error, onText }: { field: Field; text: string; error: string | undefined; onText: (text: string) => void }) {
  const id = `field-${field.name}`;
  const describedBy = [error ? `error-${field.name}` : '', field.schema.description ? `help-${field.name}` : ''].filter(Boolean).join(' ') || undefined;
  const common = { id, 'aria-invalid': error ? ('true' as const) : ('false' as const), 'aria-describedby': describedBy, 'aria-required': field.required };
  const typeHint = field.kind === 'json' ? 'JSON' : field.kind;
  return (
    <div class="field">
      <label for={id}>
        {field.name}
        {field.required ? <span aria-hidden="true"> *</span> : null} <span class="muted">({typeHint})</span>
      </label>
      {field.kind === 'enum' ? (
        <select {...common} value={text} onChange={(event) => onText(event.currentTarget.value)}>
          {!field.required ? <option value="">(none)</option> : null}
          {field.options.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      ) : field.kind === 'boolean' ? (
        <select {...common} value={text} onChange={(event) => onText(event.currentTarget.value)}>
          <option value="false">false</option>
          <option value="true">true</option>
        </select>
      ) : field.kind === 'json' ? (
        <textarea {...common} rows={3} value={text} onInput={(event) => onText(event.currentTarget.value)} />
      ) : (
        <input
          {...common}
          inputMode={field.kind === 'string' ? undefined : 'decimal'}
          value={text}
          onInput={(event) => onText(event.currentTarget.value)}
          placeholder={field.schema.minimum !== undefined || field.schema.maximum !== undefined ? `${field.schema.minimum ?? ''}…${field.schema.maximum ?? ''}` : undefined}
        />
      )}
      {field.schema.description ? (
        <span id={`help-${field.name}`} class="muted">
          {field.schema.description}
        </span>
      ) : null}
      {error ? (
        <span id={`error-${field.name}`} class="error">
          {error}
        </span>
      ) : null}
    </div>
  );
}
