/** @jsxRuntime automatic @jsxImportSource preact */
import { Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';

/** A page that only says something: errors, notices. */
export function MessagePage(props: { title: string; message: string; csrf: string; viewer?: Viewer | undefined; alert?: boolean }) {
  const { title, message, csrf, viewer, alert = false } = props;
  return (
    <Layout title={title} csrf={csrf} viewer={viewer}>
      <section class="card narrow">
        <h1>{title}</h1>
        <p role={alert ? 'alert' : undefined}>{message}</p>
        <p>
          <a href="/">Go to the home page</a>
        </p>
      </section>
    </Layout>
  );
}
