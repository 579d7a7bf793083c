/**
 * A table whose body renders only the rows in view (fixed row height), so 10,000 tasks or 1,000
 * instances cost the same to update as 30. The scroller is focusable: arrow keys and Page Up/Down
 * scroll it, and each visible row's first cell holds a link or button reachable with Tab.
 */
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';

export interface Column<T> {
  readonly key: string;
  readonly title: string;
  readonly width?: string;
  readonly render: (row: T) => ComponentChildren;
  readonly sortable?: boolean;
}

export interface Sort {
  readonly key: string;
  readonly descending: boolean;
}

interface Props<T> {
  readonly label: string;
  readonly rows: readonly T[];
  readonly columns: readonly Column<T>[];
  readonly rowKey: (row: T) => string;
  readonly sort?: Sort;
  readonly onSort?: (sort: Sort) => void;
  readonly rowClass?: (row: T) => string;
  readonly empty: ComponentChildren;
}

const ROW_PX = 34;
const OVERSCAN = 8;

export function VirtualRows<T>(props: Props<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const update = () => setView({ top: element.scrollTop, height: element.clientHeight });
    update();
    element.addEventListener('scroll', update, { passive: true });
    const observer = new ResizeObserver(update);
    observer.observe(element);
    return () => {
      element.removeEventListener('scroll', update);
      observer.disconnect();
    };
  }, []);
  const first = Math.max(0, Math.floor(view.top / ROW_PX) - OVERSCAN);
  const last = Math.min(props.rows.length, Math.ceil((view.top + view.height) / ROW_PX) + OVERSCAN);
  const visible = props.rows.slice(first, last);
  const template = props.columns.map((column) => column.width ?? 'minmax(6rem, 1fr)').join(' ');
  return (
    <div class="table" role="table" aria-label={props.label} aria-rowcount={props.rows.length + 1}>
      <div class="row head" role="row" style={{ gridTemplateColumns: template }}>
        {props.columns.map((column) => {
          const sorted = props.sort?.key === column.key;
          return (
            <div role="columnheader" key={column.key} aria-sort={sorted ? (props.sort?.descending ? 'descending' : 'ascending') : 'none'}>
              {column.sortable && props.onSort ? (
                <button type="button" class="sort" onClick={() => props.onSort?.({ key: column.key, descending: sorted ? !props.sort?.descending : false })}>
                  {column.title}
                  <span aria-hidden="true">{sorted ? (props.sort?.descending ? ' ▼' : ' ▲') : ''}</span>
                </button>
              ) : (
                column.title
              )}
            </div>
          );
        })}
      </div>
      <div class="scroller" ref={scroller} tabIndex={0} role="rowgroup" aria-label={`${props.label}: ${props.rows.length} rows`}>
        {props.rows.length === 0 ? (
          <p class="empty">{props.empty}</p>
        ) : (
          <div style={{ height: `${props.rows.length * ROW_PX}px`, position: 'relative' }}>
            {visible.map((row, index) => (
              <div
                role="row"
                aria-rowindex={first + index + 2}
                key={props.rowKey(row)}
                class={`row ${props.rowClass?.(row) ?? ''}`}
                style={{ gridTemplateColumns: template, transform: `translateY(${(first + index) * ROW_PX}px)` }}
              >
                {props.columns.map((column) => (
                  <div role="cell" key={column.key}>
                    {column.render(row)}
                  </div>
                ))}
              </div>
            ))}
          </div>
        )}
      </div>
    </div>
  );
}

/** Sorts rows by a column's value (numbers numerically, the rest as text). */
export function sortRows<T>(rows: T[], sort: Sort, value: (row: T, key: string) => string | number | undefined): T[] {
  const direction = sort.descending ? -1 : 1;
  return rows.sort((a, b) => {
    const left = value(a, sort.key);
    const right = value(b, sort.key);
    if (left === right) return 0;
    if (left === undefined) return 1;
    if (right === undefined) return -1;
    return (typeof left === 'number' && typeof right === 'number' ? left - right : String(left).localeCompare(String(right))) * direction;
  });
}
