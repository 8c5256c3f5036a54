using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Internal;
using Amazon.SimpleSystemsManagement;
using Amazon.SimpleSystemsManagement.Model;

namespace S3Mount.Engine.Ssm;

/// <summary>How <see cref="SsmClient"/> configures the official client.</summary>
public sealed class SsmClientOptions
{
    /// <summary>
    /// False (the default): the SDK never retries a throttled call and keeps no shared retry budget, because throttling
    /// is the fleet's to pace (<see cref="Fleet.FleetRunnerOptions.ThrottleAttempts"/>); the SDK still retries 5xx,
    /// timeouts and broken connections. True: the SDK's standard mode with its retry budget handles throttling too
    /// (kept for the throttle-policy benchmark that chose the default; see bench/results/fleet-throttle.md).
    /// </summary>
    public bool SdkRetriesThrottling { get; init; }

    /// <summary>Attempts per call for the errors the SDK retries (standard mode's 3).</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Per-attempt HTTP timeout.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// SSM through AWSSDK.SimpleSystemsManagement: the SDK signs, resolves the endpoint (every partition, FIPS and dual-stack
/// from the profile or <c>AWS_USE_FIPS_ENDPOINT</c>/<c>AWS_USE_DUALSTACK_ENDPOINT</c>; <c>-EndpointUrl</c> for VPC endpoints
/// and fakes), pages and retries. Retry settings are set here, in code, so <c>AWS_RETRY_MODE</c>, <c>AWS_MAX_ATTEMPTS</c> and
/// <c>~/.aws/config</c> cannot change them: standard mode (adaptive mode is broken in this AWSSDK.Core: after one throttle
/// calls wait about 28 s and fail without being sent). SDK exceptions become <see cref="SsmServiceException"/>s.
/// </summary>
public sealed class SsmClient : ISsmClient, IDisposable
{
    /// <summary>On .NET Framework (Windows PowerShell) the default is 2 connections per host: far too few for a fleet.</summary>
    public const int NetFrameworkConnectionsPerServer = 64;

    private readonly AmazonSimpleSystemsManagementClient _client;

    public SsmClient(ResolvedAwsSettings settings, SsmClientOptions? options = null)
    {
        if (settings is null)
        {
            throw new ArgumentNullException(nameof(settings));
        }

        var config = CreateConfig(settings, options ?? new SsmClientOptions());
        _client = new FleetSsmSdkClient(settings.Credentials, config);
        Config = config;
    }

    /// <summary>The configuration the SDK client was built with (tests).</summary>
    public AmazonSimpleSystemsManagementConfig Config { get; }

    /// <summary>The official client (engine-internal use).</summary>
    public IAmazonSimpleSystemsManagement Sdk => _client;

    /// <summary>The SDK configuration for these settings: explicit standard retries, the region or endpoint, connection limits.</summary>
    public static AmazonSimpleSystemsManagementConfig CreateConfig(ResolvedAwsSettings settings, SsmClientOptions options)
    {
        var config = new FleetSsmConfig
        {
            RetryMode = RequestRetryMode.Standard,
            MaxErrorRetry = Math.Max(0, options.MaxAttempts - 1),
            ThrottleRetries = options.SdkRetriesThrottling,
            SdkRetriesThrottling = options.SdkRetriesThrottling,
            Timeout = options.RequestTimeout,
        };
        if (settings.Endpoint is not null)
        {
            config.ServiceURL = settings.Endpoint.ToString();
            config.AuthenticationRegion = settings.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(settings.Region);
        }

        if (settings.UseFipsEndpoint is bool fips)
        {
            config.UseFIPSEndpoint = fips;
        }

        if (settings.UseDualstackEndpoint is bool dual)
        {
            config.UseDualstackEndpoint = dual;
        }

        if (IsNetFramework)
        {
            config.MaxConnectionsPerServer = NetFrameworkConnectionsPerServer;
        }

        return config;
    }

    internal static bool IsNetFramework => RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal);

    public async Task<Command> SendCommandAsync(SendCommandRequest request, CancellationToken cancellationToken)
    {
        try
        {
            var r = await _client.SendCommandAsync(request, cancellationToken).ConfigureAwait(false);
            return r.Command ?? new Command();
        }
        catch (Exception e) when (SsmServiceException.IsMappable(e, cancellationToken))
        {
            throw SsmServiceException.From(e, null);
        }
    }

    public IAsyncEnumerable<ListCommandInvocationsResponse> ListCommandInvocationsAsync(ListCommandInvocationsRequest request, CancellationToken cancellationToken) =>
        Pages(_client.Paginators.ListCommandInvocations(request).Responses, null, cancellationToken);

    public async Task<GetCommandInvocationResponse> GetCommandInvocationAsync(GetCommandInvocationRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.GetCommandInvocationAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (SsmServiceException.IsMappable(e, cancellationToken))
        {
            throw SsmServiceException.From(e, request.InstanceId);
        }
    }

    public async Task CancelCommandAsync(CancelCommandRequest request, CancellationToken cancellationToken)
    {
        try
        {
            await _client.CancelCommandAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (SsmServiceException.IsMappable(e, cancellationToken))
        {
            throw SsmServiceException.From(e, null);
        }
    }

    public IAsyncEnumerable<DescribeInstanceInformationResponse> DescribeInstanceInformationAsync(DescribeInstanceInformationRequest request, CancellationToken cancellationToken) =>
        Pages(_client.Paginators.DescribeInstanceInformation(request).Responses, null, cancellationToken);

    public IAsyncEnumerable<ListCommandsResponse> ListCommandsAsync(ListCommandsRequest request, CancellationToken cancellationToken) =>
        Pages(_client.Paginators.ListCommands(request).Responses, null, cancellationToken);

    /// <summary>An SDK paginator's pages, its exceptions mapped like every other call's.</summary>
    private static async IAsyncEnumerable<T> Pages<T>(IAsyncEnumerable<T> source, object? target, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pages = source.GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                T page;
                try
                {
                    if (!await pages.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }

                    page = pages.Current;
                }
                catch (Exception e) when (SsmServiceException.IsMappable(e, cancellationToken))
                {
                    throw SsmServiceException.From(e, target);
                }

                yield return page;
            }
        }
        finally
        {
            await pages.DisposeAsync().ConfigureAwait(false);
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>Carries the throttling choice into the pipeline, which the SDK builds inside the client's constructor.</summary>
    private sealed class FleetSsmConfig : AmazonSimpleSystemsManagementConfig
    {
        public bool SdkRetriesThrottling { get; set; }
    }

    private sealed class FleetSsmSdkClient : AmazonSimpleSystemsManagementClient
    {
        public FleetSsmSdkClient(AWSCredentials credentials, AmazonSimpleSystemsManagementConfig config)
            : base(credentials, config)
        {
        }

        protected override void CustomizeRuntimePipeline(RuntimePipeline pipeline)
        {
            base.CustomizeRuntimePipeline(pipeline);
            if (Config is FleetSsmConfig { SdkRetriesThrottling: false } config)
            {
                pipeline.ReplaceHandler<RetryHandler>(new RetryHandler(new NoThrottleRetryPolicy(config)));
            }
        }
    }

    /// <summary>Standard mode for everything but throttling, which is left to the caller's pacing.</summary>
    private sealed class NoThrottleRetryPolicy : StandardRetryPolicy
    {
        public NoThrottleRetryPolicy(IClientConfig config)
            : base(config)
        {
        }

        public override bool RetryForException(IExecutionContext executionContext, Exception exception) =>
            !IsThrottlingError(exception) && base.RetryForException(executionContext, exception);

        public override Task<bool> RetryForExceptionAsync(IExecutionContext executionContext, Exception exception) =>
            IsThrottlingError(exception) ? Task.FromResult(false) : base.RetryForExceptionAsync(executionContext, exception);
    }
}
