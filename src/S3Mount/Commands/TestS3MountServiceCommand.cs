using System.Collections.Generic;
using System.Management.Automation;
using S3Mount.Engine.Node;

namespace S3Mount.Commands;

/// <summary>Tests the health of mount services: Healthy, NotMounted, Stale, Hung or Failed, with the reason.</summary>
[Cmdlet(VerbsDiagnostic.Test, "S3MountService")]
[OutputType(typeof(S3MountHealth))]
[OutputType(typeof(bool))]
public sealed class TestS3MountServiceCommand : ServiceCmdlet
{
    private bool _allHealthy = true;
    private bool _any;

    /// <summary>Return one Boolean: true when every selected service is healthy.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        var names = SelectedNames();
        var paths = SelectedPaths();
        if (IsFleet)
        {
            foreach (var id in CurrentInstances)
            {
                Collect(id, names, paths);
            }

            return;
        }

        Write(NodeResultParser.Services(RunLocal(Build(() => NodeOperations.List(names, null, paths)), null)), null);
    }

    protected override void EndProcessing()
    {
        if (Target is { Length: > 0 })
        {
            RunFleet("Test-S3MountService", NodeResultParser.Services, (id, r, _) => Write(r, id), Build(() => NodeOperations.List(SelectedNames(), null, SelectedPaths())));
        }
        else
        {
            QueueCollected((names, paths) => NodeOperations.List(names, null, paths));
            RunFleet("Test-S3MountService", NodeResultParser.Services, (id, r, _) => Write(r, id));
        }

        if (Quiet)
        {
            WriteObject(_any && _allHealthy);
        }
    }

    private void Write(NodeResult<MountService> result, string? instanceId)
    {
        foreach (var s in result.Items)
        {
            _any = true;
            _allHealthy &= s.Health == MountHealth.Healthy;
            if (!Quiet)
            {
                WriteObject(S3MountHealth.From(s, instanceId));
            }
        }

        if (result.Failures.Count > 0)
        {
            _allHealthy = false;
        }

        WriteFailures(result.Failures, instanceId);
    }
}
