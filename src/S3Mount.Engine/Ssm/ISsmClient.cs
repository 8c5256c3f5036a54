using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Amazon.SimpleSystemsManagement.Model;

namespace S3Mount.Engine.Ssm;

/// <summary>
/// The six Run Command operations S3Mount uses, in the official SDK's request and response types (the engine's own small
/// seam, so tests can wrap a client). Listing operations yield pages (the SDK's paginators). Every failure, also one met
/// while paging, is an <see cref="SsmServiceException"/> with a stable S3Mount error id.
/// </summary>
public interface ISsmClient
{
    Task<Command> SendCommandAsync(SendCommandRequest request, CancellationToken cancellationToken);

    IAsyncEnumerable<ListCommandInvocationsResponse> ListCommandInvocationsAsync(ListCommandInvocationsRequest request, CancellationToken cancellationToken);

    Task<GetCommandInvocationResponse> GetCommandInvocationAsync(GetCommandInvocationRequest request, CancellationToken cancellationToken);

    Task CancelCommandAsync(CancelCommandRequest request, CancellationToken cancellationToken);

    IAsyncEnumerable<DescribeInstanceInformationResponse> DescribeInstanceInformationAsync(DescribeInstanceInformationRequest request, CancellationToken cancellationToken);

    IAsyncEnumerable<ListCommandsResponse> ListCommandsAsync(ListCommandsRequest request, CancellationToken cancellationToken);
}

/// <summary>Invocation and command status words as the service spells them.</summary>
public static class SsmStatus
{
    public const string Pending = "Pending";
    public const string InProgress = "InProgress";
    public const string Delayed = "Delayed";
    public const string Success = "Success";
    public const string Cancelled = "Cancelled";
    public const string Failed = "Failed";
    public const string TimedOut = "TimedOut";
    public const string Cancelling = "Cancelling";

    public const string DetailUndeliverable = "Undeliverable";
    public const string DetailDeliveryTimedOut = "Delivery Timed Out";
    public const string DetailExecutionTimedOut = "Execution Timed Out";

    /// <summary>"The parent command exceeded its MaxErrors limit and subsequent command invocations were canceled by the system."</summary>
    public const string DetailTerminated = "Terminated";

    public static bool IsTerminal(string? status) =>
        status == Success || status == Cancelled || status == Failed || status == TimedOut;
}
