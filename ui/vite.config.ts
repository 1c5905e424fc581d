// The console is served by `sextant serve` under /ui/; `crates/console/build.rs` runs this
// build and names the output folder in SEXTANT_CONSOLE_OUT (inside Cargo's OUT_DIR).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/ui/",
  build: {
    outDir: process.env.SEXTANT_CONSOLE_OUT ?? "dist",
    emptyOutDir: true,
    // One small bundle: no source maps shipped inside the binary.
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
});
