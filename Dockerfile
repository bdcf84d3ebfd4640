# The image the Kubernetes manifests (mmcurate run --executor k8s --emit DIR) and queue workers run:
# this checkout built with its locked dependencies, mmcurate at /app/bin/mmcurate.
#   docker build -t mmcurate:latest .
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
# dependencies first (a layer reused while package-lock.json is unchanged); scripts wait for the sources
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --include=dev --ignore-scripts
COPY . .
# install scripts now (onnxruntime-node's binaries, sharp), then the TypeScript build, then drop dev tools;
# onnxruntime-node's CUDA provider comes from NuGet: --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 fetches it
ARG ONNXRUNTIME_NODE_INSTALL=skip
RUN npm rebuild && npm run build && npm prune --omit=dev && npm cache clean --force
ENV PATH=/app/bin:$PATH
ENTRYPOINT []
CMD ["node", "/app/bin/mmcurate", "--help"]
