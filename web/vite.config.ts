import { defineConfig } from "vite";

// React without @vitejs/plugin-react: esbuild compiles the JSX (automatic runtime).
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: { outDir: "dist", emptyOutDir: true, assetsDir: "assets", sourcemap: false },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8000",
      "/socket.io": { target: "ws://127.0.0.1:8000", ws: true },
    },
  },
});
