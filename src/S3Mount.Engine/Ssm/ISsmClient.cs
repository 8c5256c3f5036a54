using System.Threading;
using System.Threading.Tasks;

namespace S3Mount.Engine.Ssm;

/// <summary>The six Run Command operations S3Mount uses. Failures are <see cref="SsmServiceException"/>s.</summary>
public interface ISsmClient
{
    Task<SsmCommand> SendCommandAsync(SendCommandRequest request, CancellationToken cancellationToken);

    Task<ListCommandInvocationsResponse> ListCommandInvocationsAsync(ListCommandInvocationsRequest request, CancellationToken cancellationToken);

    Task<GetCommandInvocationResponse> GetCommandInvocationAsync(GetCommandInvocationRequest request, CancellationToken cancellationToken);

    Task CancelCommandAsync(CancelCommandRequest request, CancellationToken cancellationToken);

    Task<DescribeInstanceInformationResponse> DescribeInstanceInformationAsync(DescribeInstanceInformationRequest request, CancellationToken cancellationToken);

    Task<ListCommandsResponse> ListCommandsAsync(ListCommandsRequest request, CancellationToken cancellationToken);
}
