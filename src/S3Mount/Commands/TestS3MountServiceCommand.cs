using System.Collections.Generic;
using System.Management.Automation;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Commands;

/// <summary>Tests the health of mount services: Healthy, NotMounted, Stale, Hung or Failed, with the reason.</summary>
[Cmdlet(VerbsDiagnostic.Test, "S3MountService", DefaultParameterSetName = LocalSet)]
[OutputType(typeof(S3MountHealth))]
[OutputType(typeof(bool))]
public sealed class TestS3MountServiceCommand : ServiceCmdlet<NodeResult<MountService>>
{
    private bool _allHealthy = true;
    private bool _any;

    /// <summary>Return one Boolean: true when every selected service is healthy.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <summary>An offline image root to test the units of (nothing runs in an image: every service is NotMounted).</summary>
    [Parameter(Mandatory = true, ParameterSetName = RootSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    public override string? Root { get => base.Root; set => base.Root = value; }

    protected override string Activity => "Test-S3MountService";

    protected override NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths, string? root) => NodeOperations.List(names, root, paths);

    protected override NodeResult<MountService> Parse(ResultBlock block) => NodeResultParser.Services(block);

    protected override void EndProcessing()
    {
        base.EndProcessing();
        if (Quiet)
        {
            WriteObject(_any && _allHealthy);
        }
    }

    protected override void Write(NodeResult<MountService> result, string? instanceId, string? root, Selection selection)
    {
        foreach (var s in result.Items)
        {
            _any = true;
            _allHealthy &= s.Health == MountHealth.Healthy;
            if (!Quiet)
            {
                WriteObject(S3MountHealth.From(s, instanceId, root, CurrentCommandId));
            }
        }

        if (result.Failures.Count > 0)
        {
            _allHealthy = false;
        }

        WriteFailures(result.Failures, instanceId);
    }
}
