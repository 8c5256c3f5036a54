using System.Management.Automation;
using S3Mount.Engine.Node;

namespace S3Mount.Commands;

/// <summary>Start, stop, restart, enable or disable mount services; with -PassThru, the services afterwards.</summary>
public abstract class ControlCmdlet : ServiceCmdlet
{
    /// <summary>Write the services (state and health after the action).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected abstract ServiceAction Action { get; }

    private string Verb => Action + " mount service";

    protected override void ProcessRecord()
    {
        var names = SelectedNames();
        var paths = SelectedPaths();
        var script = Build(() => NodeOperations.Control(Action, names, 60, paths));
        if (IsFleet)
        {
            foreach (var id in CurrentInstances)
            {
                if (ShouldProcess(Describe(names, paths) + Where(id), Verb))
                {
                    Collect(id, names, paths);
                }
            }

            return;
        }

        if (ShouldProcess(Describe(names, paths) + Where(null), Verb))
        {
            Write(NodeResultParser.Services(RunLocal(script, null)), null);
        }
    }

    protected override void EndProcessing()
    {
        if (Target is { Length: > 0 })
        {
            var script = Build(() => NodeOperations.Control(Action, SelectedNames(), 60, SelectedPaths()));
            if (ShouldProcess(Describe(SelectedNames(), SelectedPaths()) + Where(null), Verb))
            {
                RunFleet(Action + "-S3MountService", NodeResultParser.Services, (id, r, _) => Write(r, id), script);
            }

            return;
        }

        QueueCollected((names, paths) => NodeOperations.Control(Action, names, 60, paths));
        RunFleet(Action + "-S3MountService", NodeResultParser.Services, (id, r, _) => Write(r, id));
    }

    private void Write(NodeResult<MountService> result, string? instanceId)
    {
        if (PassThru)
        {
            foreach (var s in result.Items)
            {
                WriteObject(S3MountService.From(s, instanceId));
            }
        }

        WriteFailures(result.Failures, instanceId);
    }
}

/// <summary>Starts mount services and waits until each mount answers.</summary>
[Cmdlet(VerbsLifecycle.Start, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(S3MountService))]
public sealed class StartS3MountServiceCommand : ControlCmdlet
{
    protected override ServiceAction Action => ServiceAction.Start;
}

/// <summary>Stops mount services (the mount is unmounted).</summary>
[Cmdlet(VerbsLifecycle.Stop, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountService))]
public sealed class StopS3MountServiceCommand : ControlCmdlet
{
    protected override ServiceAction Action => ServiceAction.Stop;
}

/// <summary>Restarts mount services and waits until each mount answers.</summary>
[Cmdlet(VerbsLifecycle.Restart, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountService))]
public sealed class RestartS3MountServiceCommand : ControlCmdlet
{
    protected override ServiceAction Action => ServiceAction.Restart;
}

/// <summary>Enables mount services, so they mount at boot (remote-fs.target).</summary>
[Cmdlet(VerbsLifecycle.Enable, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(S3MountService))]
public sealed class EnableS3MountServiceCommand : ControlCmdlet
{
    protected override ServiceAction Action => ServiceAction.Enable;
}

/// <summary>Disables mount services, so they no longer mount at boot (a running mount stays).</summary>
[Cmdlet(VerbsLifecycle.Disable, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountService))]
public sealed class DisableS3MountServiceCommand : ControlCmdlet
{
    protected override ServiceAction Action => ServiceAction.Disable;
}
