using System.Collections.Generic;
using System.Management.Automation;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Commands;

/// <summary>Start, stop, restart, enable or disable mount services; with -PassThru, the services afterwards.</summary>
public abstract class ControlCmdlet : ServiceCmdlet<NodeResult<MountService>>
{
    /// <summary>Write the services (state and health after the action).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected abstract ServiceAction ServiceAction { get; }

    protected override string Activity => ServiceAction + "-S3MountService";

    protected override string Action => ServiceAction + " mount service";

    protected override NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths, string? root) => NodeOperations.Control(ServiceAction, names, 60, paths, root);

    protected override NodeResult<MountService> Parse(ResultBlock block) => NodeResultParser.Services(block);

    protected override void Write(NodeResult<MountService> result, string? instanceId, string? root, Selection selection)
    {
        if (PassThru)
        {
            foreach (var s in result.Items)
            {
                WriteObject(S3MountService.From(s, instanceId, root, CurrentCommandId));
            }
        }

        WriteFailures(result.Failures, instanceId);
    }
}

/// <summary>Starts mount services and waits until each mount answers.</summary>
[Cmdlet(VerbsLifecycle.Start, "S3MountService", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(S3MountService))]
public sealed class StartS3MountServiceCommand : ControlCmdlet
{
    protected override ServiceAction ServiceAction => ServiceAction.Start;
}

/// <summary>Stops mount services (the mount is unmounted).</summary>
[Cmdlet(VerbsLifecycle.Stop, "S3MountService", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountService))]
public sealed class StopS3MountServiceCommand : ControlCmdlet
{
    protected override ServiceAction ServiceAction => ServiceAction.Stop;
}

/// <summary>Restarts mount services and waits until each mount answers.</summary>
[Cmdlet(VerbsLifecycle.Restart, "S3MountService", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountService))]
public sealed class RestartS3MountServiceCommand : ControlCmdlet
{
    protected override ServiceAction ServiceAction => ServiceAction.Restart;
}

/// <summary>Enables mount services, so they mount at boot (remote-fs.target).</summary>
[Cmdlet(VerbsLifecycle.Enable, "S3MountService", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(S3MountService))]
public sealed class EnableS3MountServiceCommand : ControlCmdlet
{
    protected override ServiceAction ServiceAction => ServiceAction.Enable;

    /// <summary>An offline image root: enable the unit there (its remote-fs.target.wants link).</summary>
    [Parameter(Mandatory = true, ParameterSetName = RootSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    public override string? Root { get => base.Root; set => base.Root = value; }
}

/// <summary>Disables mount services, so they no longer mount at boot (a running mount stays).</summary>
[Cmdlet(VerbsLifecycle.Disable, "S3MountService", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountService))]
public sealed class DisableS3MountServiceCommand : ControlCmdlet
{
    protected override ServiceAction ServiceAction => ServiceAction.Disable;

    /// <summary>An offline image root: disable the unit there (its remote-fs.target.wants link).</summary>
    [Parameter(Mandatory = true, ParameterSetName = RootSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    public override string? Root { get => base.Root; set => base.Root = value; }
}
