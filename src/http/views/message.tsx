/** @jsxRuntime automatic @jsxImportSource preact */
import { Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';

/** A page that only says something: errors, notices. */
export function MessagePage({ title, message, csrf, viewer }: { title: string; message: string; csrf: string; viewer?: Viewer | undefined }) {
  return (
    <Layout title={title} csrf={csrf} viewer={viewer}>
      <section class="card narrow">
        <h1>{title}</h1>
        <p>{message}</p>
        <p>
          <a href="/">Go to the home page</a>
        </p>
      </section>
    </Layout>
  );
}
