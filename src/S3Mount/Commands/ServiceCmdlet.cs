using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Units;

namespace S3Mount.Commands;

/// <summary>
/// A cmdlet that selects existing mount services by <c>-Name</c> and/or <c>-Path</c> (both bind by property name, so
/// Get-S3MountService output pipes in and goes back to the right node).
/// </summary>
public abstract class ServiceCmdlet : AwsCmdlet
{
    /// <summary>Service names, <c>mountpoint-s3-17a82347</c> or <c>mountpoint-s3-17a82347.service</c>.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    [AllowNull]
    [AllowEmptyCollection]
    public string[]? Name { get; set; }

    /// <summary>Mount paths; selects the services that mount there.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServicePathCompleter))]
    [AllowNull]
    [AllowEmptyCollection]
    public string[]? Path { get; set; }

    private readonly Dictionary<string, (SortedSet<string> Names, SortedSet<string> Paths)> _selection = new(StringComparer.Ordinal);

    /// <summary>The names bound for this record, normalised (bad names end the command).</summary>
    protected IReadOnlyList<string> SelectedNames()
    {
        try
        {
            return (Name ?? Array.Empty<string>()).Where(n => !string.IsNullOrEmpty(n)).Select(UnitNames.Normalize).Distinct(StringComparer.Ordinal).ToList();
        }
        catch (S3MountException e)
        {
            Terminate(e);
            throw;
        }
    }

    protected IReadOnlyList<string> SelectedPaths() =>
        (Path ?? Array.Empty<string>()).Where(p => !string.IsNullOrEmpty(p)).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>What the record selects, for ShouldProcess and messages.</summary>
    protected string Describe(IReadOnlyList<string> names, IReadOnlyList<string> paths) =>
        names.Count + paths.Count == 0 ? "all mount services" : string.Join(", ", names.Concat(paths.Select(p => "the service at " + p)));

    /// <summary>Remembers the selection of this record for an instance (nodes with equal selections share one script).</summary>
    protected void Collect(string instanceId, IEnumerable<string> names, IEnumerable<string> paths)
    {
        if (!_selection.TryGetValue(instanceId, out var s))
        {
            _selection[instanceId] = s = (new SortedSet<string>(StringComparer.Ordinal), new SortedSet<string>(StringComparer.Ordinal));
        }

        s.Names.UnionWith(names);
        s.Paths.UnionWith(paths);
    }

    /// <summary>Queues one script per collected instance, built from its selection.</summary>
    protected void QueueCollected(Func<IReadOnlyList<string>, IReadOnlyList<string>, NodeScript> build)
    {
        foreach (var kv in _selection)
        {
            NodeScript script;
            try
            {
                var names = kv.Value.Names.ToList();
                var paths = kv.Value.Paths.ToList();
                script = CachedScript(SelectionKey(names, paths), () => build(names, paths));
            }
            catch (S3MountException e)
            {
                Terminate(e);
                throw;
            }

            QueueFleet(kv.Key, script, kv.Key);
        }

        _selection.Clear();
    }

    /// <summary>The cache key of a selection: nodes with equal selections share one script.</summary>
    protected static string SelectionKey(IReadOnlyList<string> names, IReadOnlyList<string> paths) =>
        "select\n" + string.Join("\0", names) + "\n" + string.Join("\0", paths);

    /// <summary>Builds a script from this record's selection, ending the command on bad input.</summary>
    protected NodeScript Build(Func<NodeScript> build)
    {
        try
        {
            return build();
        }
        catch (S3MountException e)
        {
            Terminate(e);
            throw;
        }
    }

    /// <summary>Writes the per-service failures of a node as non-terminating errors.</summary>
    protected void WriteFailures(IEnumerable<ServiceFailure> failures, string? instanceId)
    {
        foreach (var f in failures)
        {
            var prefix = instanceId is null ? string.Empty : instanceId + ": ";
            Fail(new S3MountException(f.Error.ErrorId, f.Error.Kind, prefix + f.Error.Message, f.Name), instanceId is null ? f.Name : instanceId + "/" + f.Name);
        }
    }

    /// <summary>
    /// ShouldProcess for a change; <c>-Force</c> skips the confirmation prompt but never <c>-WhatIf</c>.
    /// </summary>
    protected bool Approve(string target, string action, bool force)
    {
        var whatIf = (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter s && s.IsPresent)
            || LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference"));
        if (force && !whatIf && !MyInvocation.BoundParameters.ContainsKey("Confirm"))
        {
            WriteVerbose($"Performing the operation \"{action}\" on target \"{target}\" (-Force).");
            return true;
        }

        return ShouldProcess(target, action);
    }
}

/// <summary>
/// The one skeleton of every service operation: this record's selection is validated into a script at once; locally it
/// runs now, on a fleet it is collected per instance (ShouldProcess once per node and selection) and sent in
/// EndProcessing, with -Target as one run over the targets.
/// </summary>
public abstract class ServiceCmdlet<TResult> : ServiceCmdlet
{
    /// <summary>The command name, for progress.</summary>
    protected abstract string Activity { get; }

    /// <summary>The ShouldProcess action, or null for an operation that changes nothing.</summary>
    protected virtual string? Action => null;

    /// <summary>-Force: skips confirmation (never -WhatIf).</summary>
    protected virtual bool SkipConfirmation => false;

    /// <summary>An offline image root the operation works in instead of this machine, or null.</summary>
    protected virtual string? ImageRoot => null;

    protected abstract NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths);

    protected abstract TResult Parse(ResultBlock block);

    /// <summary>Writes one node's result to the pipeline (on the pipeline thread).</summary>
    protected abstract void Write(TResult result, string? instanceId);

    protected override void ProcessRecord()
    {
        var names = SelectedNames();
        var paths = SelectedPaths();
        var script = Build(() => CachedScript(SelectionKey(names, paths), () => BuildScript(names, paths)));
        if (IsFleet)
        {
            if (ImageRoot is not null)
            {
                Terminate(new S3MountException("S3MountParameterConflict", S3MountErrorKind.InvalidArgument,
                    "-Root works on an image on this machine; it cannot be combined with -InstanceId or -Target.", "Root"));
            }

            foreach (var id in CurrentInstances)
            {
                if (Approved(names, paths, id))
                {
                    Collect(id, names, paths);
                }
            }

            return;
        }

        if (Approved(names, paths, null))
        {
            var block = RunLocal(script, null);
            TResult result;
            try
            {
                result = Parse(block);
            }
            catch (S3MountException e)
            {
                // A script-level failure of this machine: one error record with the node's own id, then go on.
                Fail(e, System.Environment.MachineName);
                return;
            }

            Write(result, null);
        }
    }

    protected override void EndProcessing()
    {
        if (Target is { Length: > 0 })
        {
            var names = SelectedNames();
            var paths = SelectedPaths();
            var script = Build(() => BuildScript(names, paths));
            if (Approved(names, paths, null))
            {
                RunFleet(Activity, Parse, (id, r, _) => Write(r, id), script);
            }

            return;
        }

        QueueCollected(BuildScript);
        RunFleet(Activity, Parse, (id, r, _) => Write(r, id));
    }

    private bool Approved(IReadOnlyList<string> names, IReadOnlyList<string> paths, string? instanceId) =>
        Action is null || Approve(Describe(names, paths) + Where(instanceId, ImageRoot), Action, SkipConfirmation);
}

