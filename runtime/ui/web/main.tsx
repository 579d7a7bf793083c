/** Entry point of the web UI (bundled by runtime/ui/build.ts into dist/ui/app.js). */
import { render } from 'preact';
import { App } from './App.js';
import { connect } from './store.js';
import './app.css';

connect();
const root = document.getElementById('app');
if (root) render(<App />, root);
