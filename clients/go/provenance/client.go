// Package provenance is a small client of the provenance service: Dial,
// typed calls with credentials and a default deadline, and WatchEvents,
// which resumes after the last event it delivered when the server ends the
// stream with a status a subscriber can resume from. The generated stubs are
// in example.com/provenance/clients/go/gen/provenance/v1; every RPC has a
// method here, and Stub gives them with call options.
package provenance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/timestamppb"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
)

// DefaultTimeout is the deadline of a unary call whose context has none.
const DefaultTimeout = 30 * time.Second

// Client calls one provenance server over one connection. It is safe for
// concurrent use.
type Client struct {
	conn *grpc.ClientConn
	stub provenancev1.ProvenanceServiceClient
}

type settings struct {
	metadata    map[string]string
	tlsConfig   *tls.Config
	timeout     time.Duration
	dialOptions []grpc.DialOption
}

// Option configures Dial.
type Option func(*settings)

// WithBearerToken sends "authorization: Bearer <token>" with every call.
func WithBearerToken(token string) Option {
	return func(s *settings) { s.metadata["authorization"] = "Bearer " + token }
}

// WithAPIKey sends "x-api-key: <key>" with every call.
func WithAPIKey(key string) Option {
	return func(s *settings) { s.metadata["x-api-key"] = key }
}

// WithTLS connects over TLS with this configuration: RootCAs to trust the
// server's certificate, Certificates to present a client certificate (mTLS).
// Without it the connection is plaintext.
func WithTLS(config *tls.Config) Option {
	return func(s *settings) { s.tlsConfig = config }
}

// WithTimeout sets the deadline of unary calls whose context has none
// (DefaultTimeout otherwise; 0 for none). WatchEvents is never given one.
func WithTimeout(timeout time.Duration) Option {
	return func(s *settings) { s.timeout = timeout }
}

// WithDialOptions adds grpc-go dial options, e.g. a custom dialer.
func WithDialOptions(options ...grpc.DialOption) Option {
	return func(s *settings) { s.dialOptions = append(s.dialOptions, options...) }
}

// TLSConfigFromFiles reads the PEM files of a TLS configuration for WithTLS:
// the CA that signed the server's certificate (empty: the system's roots)
// and, for mTLS, the client's certificate and key (both empty: none).
func TLSConfigFromFiles(caFile, certFile, keyFile string) (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
	}
	if certFile != "" || keyFile != "" {
		certificate, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		config.Certificates = []tls.Certificate{certificate}
	}
	return config, nil
}

// Dial connects to the server at address ("host:port") and waits until the
// connection is ready or ctx ends; give ctx a deadline. A refused
// connection, and other errors grpc-go deems permanent, end it at once; the
// error names the last connection failure either way.
func Dial(ctx context.Context, address string, options ...Option) (*Client, error) {
	s := &settings{metadata: map[string]string{}, timeout: DefaultTimeout}
	for _, option := range options {
		option(s)
	}
	dialOptions := []grpc.DialOption{
		grpc.WithBlock(),
		grpc.WithReturnConnectionError(),
		grpc.FailOnNonTempDialError(true),
		grpc.WithUnaryInterceptor(defaultDeadline(s.timeout)),
	}
	if s.tlsConfig != nil {
		dialOptions = append(dialOptions, grpc.WithTransportCredentials(credentials.NewTLS(s.tlsConfig)))
	} else {
		dialOptions = append(dialOptions, grpc.WithInsecure())
	}
	if len(s.metadata) > 0 {
		dialOptions = append(dialOptions, grpc.WithPerRPCCredentials(callMetadata(s.metadata)))
	}
	conn, err := grpc.DialContext(ctx, address, append(dialOptions, s.dialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", address, err)
	}
	return &Client{conn: conn, stub: provenancev1.NewProvenanceServiceClient(conn)}, nil
}

// callMetadata is sent with every call. It does not require TLS because
// the server accepts credentials over plaintext on loopback; use WithTLS
// for any other address.
type callMetadata map[string]string

func (m callMetadata) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return m, nil
}

func (callMetadata) RequireTransportSecurity() bool { return false }

func defaultDeadline(timeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, request, reply any, conn *grpc.ClientConn, invoke grpc.UnaryInvoker, options ...grpc.CallOption) error {
		if _, hasDeadline := ctx.Deadline(); !hasDeadline && timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		return invoke(ctx, method, request, reply, conn, options...)
	}
}

// Close closes the connection; calls in flight fail.
func (c *Client) Close() error { return c.conn.Close() }

// Stub is the generated client on the same connection, with the same
// credentials and default deadline.
func (c *Client) Stub() provenancev1.ProvenanceServiceClient { return c.stub }

// RecordJob records a job that ran, or runs, elsewhere.
func (c *Client) RecordJob(ctx context.Context, request *provenancev1.RecordJobRequest) (*provenancev1.Job, error) {
	return c.stub.RecordJob(ctx, request)
}

// BatchRecordJobs records up to the server's batch limit of jobs in one
// call; each result carries its own status.
func (c *Client) BatchRecordJobs(ctx context.Context, request *provenancev1.BatchRecordJobsRequest) (*provenancev1.BatchRecordJobsResponse, error) {
	return c.stub.BatchRecordJobs(ctx, request)
}

// SubmitJob submits a job for the service's workers to run.
func (c *Client) SubmitJob(ctx context.Context, request *provenancev1.SubmitJobRequest) (*provenancev1.Job, error) {
	return c.stub.SubmitJob(ctx, request)
}

// GetJob returns one job's provenance record.
func (c *Client) GetJob(ctx context.Context, jobID string) (*provenancev1.Job, error) {
	return c.stub.GetJob(ctx, &provenancev1.GetJobRequest{JobId: jobID})
}

// GetJobAsOf returns one job's provenance record as it was at asOf
// (NotFound for a job created after). GetLineage, ListDependents,
// ExportProvenanceGraph and StreamLineage take as_of in their requests
// (AsOf: timestamppb.New(t)).
func (c *Client) GetJobAsOf(ctx context.Context, jobID string, asOf time.Time) (*provenancev1.Job, error) {
	return c.stub.GetJob(ctx, &provenancev1.GetJobRequest{JobId: jobID, AsOf: timestamppb.New(asOf)})
}

// ListJobs returns one page of the jobs the caller may read, filtered.
func (c *Client) ListJobs(ctx context.Context, request *provenancev1.ListJobsRequest) (*provenancev1.ListJobsResponse, error) {
	return c.stub.ListJobs(ctx, request)
}

// GetLineage returns the ancestors and/or descendants of a job.
func (c *Client) GetLineage(ctx context.Context, request *provenancev1.GetLineageRequest) (*provenancev1.GetLineageResponse, error) {
	return c.stub.GetLineage(ctx, request)
}

// CheckReproducibility tells whether a job can be reproduced, and why not.
func (c *Client) CheckReproducibility(ctx context.Context, jobID string) (*provenancev1.CheckReproducibilityResponse, error) {
	return c.stub.CheckReproducibility(ctx, &provenancev1.CheckReproducibilityRequest{JobId: jobID})
}

// CompareJobs tells why two jobs differ (typically a job and its rerun), and
// where their lineages diverge.
func (c *Client) CompareJobs(ctx context.Context, leftJobID, rightJobID string) (*provenancev1.CompareJobsResponse, error) {
	return c.stub.CompareJobs(ctx, &provenancev1.CompareJobsRequest{LeftJobId: leftJobID, RightJobId: rightJobID})
}

// ListDependents returns one page of the jobs built on a job, directly or
// (Transitive) through others.
func (c *Client) ListDependents(ctx context.Context, request *provenancev1.ListDependentsRequest) (*provenancev1.ListDependentsResponse, error) {
	return c.stub.ListDependents(ctx, request)
}

// ExportProvenanceGraph returns a job's lineage as whole records and edges,
// and as a document in the requested format.
func (c *Client) ExportProvenanceGraph(ctx context.Context, request *provenancev1.ExportProvenanceGraphRequest) (*provenancev1.ExportProvenanceGraphResponse, error) {
	return c.stub.ExportProvenanceGraph(ctx, request)
}

// RerunJob submits a new job from a submitted job's definition, changed as
// the request says.
func (c *Client) RerunJob(ctx context.Context, request *provenancev1.RerunJobRequest) (*provenancev1.Job, error) {
	return c.stub.RerunJob(ctx, request)
}

// CancelJob cancels a submitted job that has not finished, giving a reason.
func (c *Client) CancelJob(ctx context.Context, request *provenancev1.CancelJobRequest) (*provenancev1.Job, error) {
	return c.stub.CancelJob(ctx, request)
}

// SetReaderSubjects sets who beyond its tenant may read a job: its grants
// ("tenant/subject" each) become exactly request.ReaderSubjects, and an empty
// list takes every grant back. Only the job's owner may; with an Etag, the
// call is ABORTED (ETAG_MISMATCH) unless the job still has it.
func (c *Client) SetReaderSubjects(ctx context.Context, request *provenancev1.SetReaderSubjectsRequest) (*provenancev1.Job, error) {
	return c.stub.SetReaderSubjects(ctx, request)
}

// InvalidateCache marks a job and the jobs built on it STALE (DryRun: only
// says which it would).
func (c *Client) InvalidateCache(ctx context.Context, request *provenancev1.InvalidateCacheRequest) (*provenancev1.InvalidateCacheResponse, error) {
	return c.stub.InvalidateCache(ctx, request)
}

// ListAuditEvents returns one page of the audit trail; it needs an admin.
func (c *Client) ListAuditEvents(ctx context.Context, request *provenancev1.ListAuditEventsRequest) (*provenancev1.ListAuditEventsResponse, error) {
	return c.stub.ListAuditEvents(ctx, request)
}
