/**
 * The seed design document's own sentences, quoted by the core checks that enforce them (Check.seed)
 * and in their failures, so an implementation written from the seed sees which sentence it departs
 * from. Quoted exactly, trimmed with "…" only.
 */
export const SEED = {
  replyTrigger: 'ServiceAdvertisement (Service Broadcast Response) … Trigger: Upon receiving a ClientServiceDiscoveryRequest.',
  advertisement:
    'ServiceAdvertisement JSON Structure: {"discoveryType": "ServiceAdvertisement", "serviceId": …, "serviceName": …, "serviceVersion": …, "endpoint": "ws://127.0.0.1:8080", "capabilities": [{"key": "resizeImage", "settings": [{"string": "inputPath"}, …]}, …], "status": "Online", "load": 0.0, "timestamp": "2025-07-02T11:45:05Z", …}',
  endpoint: '"endpoint": "ws://127.0.0.1:8080" … Each service provider hosts its own WebSocket server to accept direct connections from clients.',
  capabilities: 'Sent by service providers to announce their presence and capabilities. … capabilities (matching the required operation)',
  heartbeat: 'ServiceAdvertisement … Trigger: … Periodically (e.g., every 30-60 seconds) as a "heartbeat" to indicate continued availability.',
  storage: 'Maintains a local in-memory collection of discovered services, indexed by serviceId and serviceName.',
  robust: 'Implement comprehensive try-except blocks and logging in both client and service applications to gracefully handle malformed JSON, invalid payloads, network issues, and internal processing errors.',
  envelope: 'All JSON messages exchanged over WebSockets should include: type … messageId: string (UUID/GUID) - Unique identifier for the message … timestamp: string (ISO 8601) … payload: object',
  flow: 'Client->>Provider: AssignTask (e.g., resizeImage); Provider-->>Client: Status (Processing); Client->>Provider: GetStatus (Periodic); Provider-->>Client: Status (Completed); Client->>Provider: GetResult (If needed); Provider-->>Client: TaskResult (with result data)',
  progress: 'TaskStatusUpdate … Purpose: Service provides real-time progress updates for a task. … "progressPercentage": 75',
  result: 'TaskResult … Purpose: Service sends final results upon successful task completion.',
  failed: 'TaskFailed … Purpose: Service reports an error during task execution.',
  idempotency:
    'Idempotency: Task assignment messages (AssignTask) should be designed to be idempotent. Service providers should use the taskId from the client to detect and ignore duplicate requests, preventing multiple processing of the same task if a client retries due to a lost acknowledgment.',
  validation: 'All incoming JSON payloads (especially taskParameters) must be rigorously validated and sanitized by service providers',
  cancel: 'CancelTask Message (Optional): Purpose: Client requests to cancel a previously assigned, in-progress task.',
  query: 'Clients can also query the status and results of submitted tasks. … Client->>Provider: GetStatus (Periodic) … Client->>Provider: GetResult (If needed); Provider-->>Client: TaskResult (with result data)',
  ping: 'WebSocket Ping/Pong: Both clients and service providers should implement WebSocket ping/pong messages to actively maintain connections and detect network disconnections.',
  close: 'Graceful Disconnection: Implement proper WebSocket closing handshakes (close frame) to allow for clean disconnections.',
  ackOptional: 'Message Acknowledgment (Optional for Critical Messages): … The sender maintains a queue of unacknowledged messages and retries sending after a timeout if no Ack is received.',
  discoveryTrigger: 'ClientServiceDiscoveryRequest … Trigger: On application startup, periodically (e.g., every 5 minutes), or upon user request to refresh services.',
  discoveryRequest: 'ClientServiceDiscoveryRequest JSON Structure: {"discoveryType": "ClientServiceDiscoveryRequest", "clientId": "unique-client-app-instance-id-XYZ", "timestamp": "2025-07-02T11:45:00Z"}',
  assignTask:
    'AssignTask … "payload": {"taskId": "client-generated-unique-task-id-123", "serviceName": "ImageProcessingService", "operation": "resizeImage", "taskParameters": {…}, "callbackClientId": "unique-client-app-instance-id-XYZ"}',
  cancelTask: 'CancelTask … "payload": {"taskId": "client-generated-unique-task-id-123", "originalClientId": "unique-client-app-instance-id-XYZ"}',
  connect: 'Once a client has discovered a service\'s endpoint, it establishes a WebSocket connection.',
  backoff:
    'Connection Retries with Exponential Backoff: Clients should implement robust retry logic with exponential backoff when attempting to establish a WebSocket connection to a service provider (after discovery, or upon disconnection).',
} as const;
