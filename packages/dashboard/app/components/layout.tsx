import { useState, type ReactNode } from 'react';
import { NavLink } from 'react-router';
import { useAuth } from '../auth';

const NAV = [
  { to: '/app/services', label: 'Services' },
  { to: '/app/runs', label: 'Runs' },
  { to: '/app/files', label: 'Files' },
  { to: '/app/usage', label: 'Usage' },
  { to: '/app/advanced', label: 'Advanced' },
];

export function Layout({ children }: { children: ReactNode }) {
  const { state, signOut } = useAuth();
  const [open, setOpen] = useState(false);
  const who = state.status === 'signed-in' ? (state.via === 'session' ? state.session.user.email : `key ${state.keyPrefix}…`) : '';
  return (
    <div className="shell">
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <span className="brand" aria-label="Runlet">
          <span className="logo" aria-hidden="true">▲</span> Runlet
        </span>
        <button className="menu-button" aria-expanded={open} aria-controls="nav" onClick={() => setOpen(!open)}>
          Menu
        </button>
      </header>
      <nav id="nav" className={open ? 'sidebar open' : 'sidebar'} aria-label="Main">
        <span className="brand wide">
          <span className="logo" aria-hidden="true">▲</span> Runlet
        </span>
        <ul>
          {NAV.map((n) => (
            <li key={n.to}>
              <NavLink to={n.to} onClick={() => setOpen(false)}>
                {n.label}
              </NavLink>
            </li>
          ))}
        </ul>
        <div className="who">
          <span className="muted small">Signed in with {who}</span>
          <button className="ghost" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </nav>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
