using System.Collections.Generic;
using System.Management.Automation;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Commands;

/// <summary>
/// Repairs Stale, NotMounted and Failed mounts: lazy-unmounts the dead mount, resets the failed state, starts the
/// service and waits for the mount; reports the health before and after.
/// </summary>
[Cmdlet(VerbsDiagnostic.Repair, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountRepair))]
public sealed class RepairS3MountServiceCommand : ServiceCmdlet<NodeResult<RepairResult>>
{
    /// <summary>Also repair Hung mounts (kills the daemon), and skip confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override string Activity => "Repair-S3MountService";

    protected override string Action => "Repair mount service";

    protected override bool SkipConfirmation => Force;

    protected override NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths) => NodeOperations.Repair(names, Force, 60, paths);

    protected override NodeResult<RepairResult> Parse(ResultBlock block) => NodeResultParser.Repairs(block);

    protected override void Write(NodeResult<RepairResult> result, string? instanceId)
    {
        foreach (var r in result.Items)
        {
            WriteObject(S3MountRepair.From(r, result.Host, instanceId));
        }

        WriteFailures(result.Failures, instanceId);
    }
}
