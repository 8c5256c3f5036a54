using System.Collections.Generic;
using System.Management.Automation;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Commands;

/// <summary>
/// Repairs Stale, NotMounted and Failed mounts (Hung ones too with -IncludeHung): lazy-unmounts the dead mount, resets
/// the failed state, starts the service and waits for the mount; reports the health before and after.
/// </summary>
[Cmdlet(VerbsDiagnostic.Repair, "S3MountService", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountRepair))]
public sealed class RepairS3MountServiceCommand : ServiceCmdlet<NodeResult<RepairResult>>
{
    /// <summary>Skip confirmation (never -WhatIf).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Also repair Hung mounts: the daemon that does not answer is killed and the service started again.</summary>
    [Parameter]
    public SwitchParameter IncludeHung { get; set; }

    protected override string Activity => "Repair-S3MountService";

    protected override string Action => "Repair mount service";

    protected override bool SkipConfirmation => Force;

    protected override NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths, string? root) => NodeOperations.Repair(names, IncludeHung, 60, paths);

    protected override NodeResult<RepairResult> Parse(ResultBlock block) => NodeResultParser.Repairs(block);

    protected override void Write(NodeResult<RepairResult> result, string? instanceId, string? root, Selection selection)
    {
        foreach (var r in result.Items)
        {
            WriteObject(S3MountRepair.From(r, result.Host, instanceId, CurrentCommandId));
        }

        WriteFailures(result.Failures, instanceId);
    }
}
