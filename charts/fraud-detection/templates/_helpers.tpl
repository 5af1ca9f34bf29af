{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "fraud-detection.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the InferenceService's name. KServe names the predictor Deployments and Services
<fullname>-<predictor name>-predictor, so the checks in fraud-detection.validate keep those
within 63 characters.
*/}}
{{- define "fraud-detection.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fraud-detection.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable across upgrades.
*/}}
{{- define "fraud-detection.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fraud-detection.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "fraud-detection.labels" -}}
helm.sh/chart: {{ include "fraud-detection.chart" . }}
{{ include "fraud-detection.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fraud-detection
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The name KServe gives a predictor's Deployment and Service. Argument: (list $ predictorName).
*/}}
{{- define "fraud-detection.predictorServiceName" -}}
{{- printf "%s-%s-predictor" (include "fraud-detection.fullname" (index . 0)) (index . 1) }}
{{- end }}

{{/*
Cross-field checks the JSON schema cannot express. Renders nothing; fails the render instead.
*/}}
{{- define "fraud-detection.validate" -}}
{{- $v := .Values }}
{{- if not $v.model.storageUri }}
{{- fail "model.storageUri is required: the registered model version to serve, e.g. pvc://fraud-workspace/artifacts/registry/fraud-detector/versions/<version>" }}
{{- end }}
{{- $names := list $v.predictor.name }}
{{- if $v.canary.enabled }}
{{- if not $v.canary.storageUri }}
{{- fail "canary.storageUri is required when canary.enabled is true" }}
{{- end }}
{{- if eq $v.canary.name $v.predictor.name }}
{{- fail (printf "canary.name %q must differ from predictor.name (KServe refuses a canary named like the stable predictor)" $v.canary.name) }}
{{- end }}
{{- if and (not (kindIs "invalid" $v.canary.replicas)) (gt (int $v.canary.replicas) (int $v.predictor.replicas)) }}
{{- fail (printf "canary.replicas (%d) must not exceed predictor.replicas (%d)" (int $v.canary.replicas) (int $v.predictor.replicas)) }}
{{- end }}
{{- $names = append $names $v.canary.name }}
{{- end }}
{{- range $names }}
{{- $svc := include "fraud-detection.predictorServiceName" (list $ .) }}
{{- if gt (len $svc) 63 }}
{{- fail (printf "KServe would name a predictor Service %q (%d characters, the limit is 63): shorten the release name, fullnameOverride or the predictor/canary name" $svc (len $svc)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The kserve-container: the BentoML service. Stable and canary share it so that a promoted
canary renders exactly the pod it already runs (KServe then promotes it without a restart).
Argument: dict "root" $ "storageUri" <uri> "imageTag" <tag>.
*/}}
{{- define "fraud-detection.container" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $tag := default $root.Chart.AppVersion .imageTag -}}
- name: kserve-container
  image: {{ printf "%s:%s" $v.image.repository $tag | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  ports:
    - name: http1
      containerPort: 3000
      protocol: TCP
  env:
    # KServe reads the model URI from STORAGE_URI on a custom container, mounts or downloads
    # the model at /mnt/models and rewrites this variable to that path.
    - name: STORAGE_URI
      value: {{ .storageUri | quote }}
    - name: FRAUD_SERVING_MODEL_DIR
      value: /mnt/models
    - name: FRAUD_SERVING_FEATURE_REPO
      value: {{ $v.featureStore.repoPath | quote }}
    # Absolute: the service resolves a relative path against its working directory.
    - name: FRAUD_SERVING_FEATURE_STORE_YAML
      value: {{ printf "%s/%s" (trimSuffix "/" $v.featureStore.repoPath) $v.featureStore.configFile | quote }}
    - name: FEAST_REDIS_CONNECTION
      valueFrom:
        secretKeyRef:
          name: {{ $v.featureStore.secretName }}
          key: {{ $v.featureStore.redisConnectionKey }}
    - name: FEAST_REGISTRY_URL
      valueFrom:
        secretKeyRef:
          name: {{ $v.featureStore.secretName }}
          key: {{ $v.featureStore.registryUrlKey }}
    # The root filesystem is read-only: BentoML's home (stores, Prometheus multiprocess
    # files) moves to the /tmp emptyDir. The Bento itself stays where the image put it.
    - name: BENTOML_HOME
      value: /tmp/bentoml
    {{- if $v.predictionLog.enabled }}
    # Every scored transaction, for the monitor CronJob (docs/monitoring.md).
    - name: FRAUD_SERVING_PREDICTION_LOG_DIR
      value: /workspace/artifacts/prediction-log
    {{- end }}
  startupProbe:
    httpGet:
      path: /livez
      port: 3000
    periodSeconds: {{ $v.probes.startup.periodSeconds }}
    timeoutSeconds: {{ $v.probes.startup.timeoutSeconds }}
    failureThreshold: {{ $v.probes.startup.failureThreshold }}
  livenessProbe:
    httpGet:
      path: /livez
      port: 3000
    periodSeconds: {{ $v.probes.liveness.periodSeconds }}
    timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
    failureThreshold: {{ $v.probes.liveness.failureThreshold }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: 3000
    periodSeconds: {{ $v.probes.readiness.periodSeconds }}
    timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
    failureThreshold: {{ $v.probes.readiness.failureThreshold }}
  resources:
    {{- toYaml $v.resources | nindent 4 }}
  securityContext:
    runAsNonRoot: true
    runAsUser: {{ $v.securityContext.runAsUser }}
    runAsGroup: {{ $v.securityContext.runAsGroup }}
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    privileged: false
    capabilities:
      drop:
        - ALL
    seccompProfile:
      type: RuntimeDefault
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    {{- if $v.predictionLog.enabled }}
    - name: workspace
      mountPath: /workspace
    {{- end }}
{{- end }}

{{/*
Everything of a predictor but its name, model and replicas: the pod-level settings.
Argument: the root context.
*/}}
{{- define "fraud-detection.podSettings" -}}
{{- $v := .Values -}}
automountServiceAccountToken: false
{{- with $v.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ $v.securityContext.runAsUser }}
  runAsGroup: {{ $v.securityContext.runAsGroup }}
  fsGroup: {{ $v.securityContext.fsGroup }}
  seccompProfile:
    type: RuntimeDefault
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $v.tmpSizeLimit }}
  {{- if $v.predictionLog.enabled }}
  # Shared with the monitor CronJob: must be ReadWriteMany when pods run on several nodes.
  - name: workspace
    persistentVolumeClaim:
      claimName: {{ $v.jobs.workspaceClaim }}
  {{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
checkov findings that are deliberate, each with its reason (read by checkov from annotations).
*/}}
{{- define "fraud-detection.checkovSkips" -}}
checkov.io/skip1: "CKV_K8S_43=Image tags come from the chart's appVersion and the version matrix; pin digests in values for production."
checkov.io/skip2: "CKV_K8S_15=IfNotPresent on purpose - on kind the images are loaded into the node and are not in any registry."
checkov.io/skip3: "CKV_K8S_40=UID 1034 is the user that owns the files of the project's images (bentoml containerize and k8s/images/pipeline.Dockerfile)."
checkov.io/skip4: "CKV_K8S_35=Feast reads its connection strings only from environment variables it expands in feature_store.cluster.yaml."
{{- end }}

{{/*
Egress rules: DNS (cluster DNS pods, UDP and TCP 53), and the Feast stores of the platform
(Redis 6379 and PostgreSQL 5432 in the release namespace).
*/}}
{{- define "fraud-detection.egressToDns" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .ns }}
      podSelector:
        matchLabels:
          {{- toYaml .labels | nindent 10 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}

{{- /* Egress to the Pushgateway's pods (alerting.pushgateway). */ -}}
{{- define "fraud-detection.egressToPushgateway" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .namespace }}
      podSelector:
        matchLabels:
          {{- toYaml .podLabels | nindent 10 }}
  ports:
    - port: {{ .port }}
      protocol: TCP
{{- end }}

{{- define "fraud-detection.egressToDnsAndFeatureStore" -}}
{{ include "fraud-detection.egressToDns" . }}
- to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: redis
  ports:
    - port: 6379
      protocol: TCP
- to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: postgres
  ports:
    - port: 5432
      protocol: TCP
{{- end }}
