import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { AuthProvider, useAuth } from './auth';
import { Layout } from './components/layout';
import { AdvancedPage } from './pages/advanced';
import { FilesPage } from './pages/files';
import { RunPage } from './pages/run';
import { RunsPage } from './pages/runs';
import { ServicePage } from './pages/service';
import { ServicesPage } from './pages/services';
import { SetupPage } from './pages/setup';
import { SignInPage } from './pages/sign-in';
import { UsagePage } from './pages/usage';
import './styles.css';

const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false, refetchOnWindowFocus: true } } });

/** Pages live under /app/ so that none shadows an API endpoint of the same name. */
function SignedIn() {
  const { state } = useAuth();
  const location = useLocation();
  if (state.status === 'checking') return <p className="center muted" role="status">Loading…</p>;
  if (state.status === 'signed-out') return <Navigate to="/sign-in" replace state={{ from: location.pathname + location.search }} />;
  return (
    <Layout>
      <Routes>
        <Route path="services" element={<ServicesPage />} />
        <Route path="services/:id" element={<ServicePage />} />
        <Route path="runs" element={<RunsPage />} />
        <Route path="runs/:id" element={<RunPage />} />
        <Route path="files" element={<FilesPage />} />
        <Route path="usage" element={<UsagePage />} />
        <Route path="advanced" element={<AdvancedPage />} />
        <Route path="*" element={<Navigate to="/app/services" replace />} />
      </Routes>
    </Layout>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <AuthProvider>
        <BrowserRouter>
          <Routes>
            <Route path="/sign-in" element={<SignInPage />} />
            <Route path="/setup" element={<SetupPage />} />
            <Route path="/app/*" element={<SignedIn />} />
            <Route path="*" element={<Navigate to="/app/services" replace />} />
          </Routes>
        </BrowserRouter>
      </AuthProvider>
    </QueryClientProvider>
  </StrictMode>,
);
