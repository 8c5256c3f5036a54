using System.Management.Automation;
using S3Mount.Engine.Node;

namespace S3Mount.Commands;

/// <summary>
/// Repairs Stale, NotMounted and Failed mounts: lazy-unmounts the dead mount, resets the failed state, starts the
/// service and waits for the mount; reports the health before and after.
/// </summary>
[Cmdlet(VerbsDiagnostic.Repair, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountRepair))]
public sealed class RepairS3MountServiceCommand : ServiceCmdlet
{
    /// <summary>Also repair Hung mounts (kills the daemon), and skip confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var names = SelectedNames();
        var paths = SelectedPaths();
        if (IsFleet)
        {
            foreach (var id in CurrentInstances)
            {
                if (Approve(Describe(names, paths) + Where(id), "Repair mount service", Force))
                {
                    Collect(id, names, paths);
                }
            }

            return;
        }

        if (!Approve(Describe(names, paths) + Where(null), "Repair mount service", Force))
        {
            return;
        }

        Write(NodeResultParser.Repairs(RunLocal(Build(() => NodeOperations.Repair(names, Force, 60, paths)), null)), null);
    }

    protected override void EndProcessing()
    {
        if (Target is { Length: > 0 })
        {
            if (Approve(Describe(SelectedNames(), SelectedPaths()) + Where(null), "Repair mount service", Force))
            {
                RunFleet("Repair-S3MountService", NodeResultParser.Repairs, (id, r, _) => Write(r, id), Build(() => NodeOperations.Repair(SelectedNames(), Force, 60, SelectedPaths())));
            }

            return;
        }

        QueueCollected((names, paths) => NodeOperations.Repair(names, Force, 60, paths));
        RunFleet("Repair-S3MountService", NodeResultParser.Repairs, (id, r, _) => Write(r, id));
    }

    private void Write(NodeResult<RepairResult> result, string? instanceId)
    {
        foreach (var r in result.Items)
        {
            WriteObject(S3MountRepair.From(r, result.Host, instanceId));
        }

        WriteFailures(result.Failures, instanceId);
    }
}
