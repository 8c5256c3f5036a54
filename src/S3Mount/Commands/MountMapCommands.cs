using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Map;

namespace S3Mount.Commands;

/// <summary>
/// A cmdlet that holds nodes against a mount map: from a data file (<c>-MapPath</c>, parsed, never run) or from the
/// pipeline (objects whose properties are New-S3MountService's parameter names, Get-S3MountService output). The whole
/// map is read and validated before any node is touched; then one script per node carries all of it (the same
/// script for every node, so a fleet is one SSM command per 50 nodes), and the node works out its own plan.
/// </summary>
public abstract class MountMapCmdlet : NodeCmdlet
{
    private readonly List<MountMapEntry> _piped = new();
    private bool _idsOnCommandLine;
    private bool _rootOnCommandLine;
    private string? _pipedFrom;
    private readonly Dictionary<string, int> _summary = new(StringComparer.Ordinal);
    private int _nodes;

    /// <summary>A mount map file (<c>.psd1</c>): <c>@{ Mounts = @( @{ Bucket = ...; Path = ... }, ... ) }</c>.</summary>
    [Parameter(Position = 0)]
    [Alias("MapFile")]
    public string? MapPath { get; set; }

    /// <summary>
    /// An offline image root to hold against the map instead of this machine. Never taken from the piped mounts: they
    /// are the map, not the place.
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = RootSet)]
    public override string? Root { get => base.Root; set => base.Root = value; }

    /// <summary>The command name, for progress and the summary.</summary>
    protected abstract string Activity { get; }

    /// <summary>Runs the map's script (built by <see cref="Script"/>) where the invocation points and writes the results.</summary>
    protected abstract void Run(MountMap map, string? root);

    /// <summary>True when the command line names a fleet (-InstanceId or -Target); the piped mounts never do.</summary>
    protected bool ToFleet => _idsOnCommandLine || IsTargets;

    /// <summary>The node script of this map for this invocation.</summary>
    protected NodeScript Script(MountMap map, string? root, bool apply, bool prune = false, bool adopt = false)
    {
        try
        {
            return NodeOperations.Sync(new SyncRequest(map) { Root = root, Apply = apply, Prune = prune, Adopt = adopt });
        }
        catch (S3MountException e)
        {
            Terminate(e, root);
            throw;
        }
    }

    protected override void BeginProcessing()
    {
        _idsOnCommandLine = MyInvocation.BoundParameters.ContainsKey(nameof(InstanceId));
        _rootOnCommandLine = MyInvocation.BoundParameters.ContainsKey(nameof(Root));
        base.BeginProcessing();
    }

    protected override void ProcessRecord()
    {
        if (InputObject is null)
        {
            return;
        }

        // The piped objects are the map. One that came from somewhere (a fleet node, an image) must not silently make
        // this machine the place: the command line names where.
        if (!_idsOnCommandLine && !_rootOnCommandLine && !IsTargets)
        {
            var from = InputObject.BaseObject is S3MountService s ? s.InstanceId ?? s.Root : InstanceIdTransformationAttribute.IdsOf(InputObject).FirstOrDefault();
            _pipedFrom ??= string.IsNullOrEmpty(from) ? null : from;
        }

        _piped.Add(MountMapReader.FromObject(InputObject, _piped.Count));
    }

    protected override void EndProcessing()
    {
        if (_pipedFrom is not null)
        {
            Terminate(new S3MountException("S3MountParameterConflict", S3MountErrorKind.InvalidArgument,
                $"The piped mounts came from {_pipedFrom}; they are the map, not the nodes. Say which nodes to hold against it with -InstanceId or -Target (or -Root for an image).", _pipedFrom));
        }

        var map = ReadMap();
        string? root = null;
        if (_rootOnCommandLine)
        {
            try
            {
                root = ResolveRoot(Root);
            }
            catch (S3MountException e)
            {
                Terminate(e, Root);
            }
        }

        Run(map, root);
        WriteSummary();
    }

    /// <summary>The map from the file or the pipeline, validated as a whole; a bad map ends the command before anything is sent.</summary>
    private MountMap ReadMap()
    {
        if (MapPath is not null && _piped.Count > 0)
        {
            Terminate(new S3MountException("S3MountParameterConflict", S3MountErrorKind.InvalidArgument,
                "Give the map either as a file (-MapPath) or as piped mounts, not both.", MapPath));
        }

        try
        {
            if (MapPath is not null)
            {
                var file = ResolveLocalPath(MapPath, "-MapPath");
                if (!File.Exists(file))
                {
                    Terminate(new S3MountException(ErrorIds.MapNotFound, S3MountErrorKind.ObjectNotFound, $"The mount map file {file} does not exist.", MapPath));
                }

                return MountMapReader.ReadFile(file);
            }

            if (_piped.Count == 0)
            {
                Terminate(new S3MountException(ErrorIds.MapInvalid, S3MountErrorKind.InvalidArgument,
                    "No mount map: give -MapPath (a .psd1 file) or pipe mounts in (objects with Bucket and Path, or Get-S3MountService output).", null));
            }

            return MountMap.Build(_piped, source: "from the pipeline");
        }
        catch (S3MountException e)
        {
            Terminate(e, MapPath);
            throw;
        }
    }

    /// <summary>Runs one script here (this machine or the image) or on the fleet, handing each node's result to <paramref name="write"/>.</summary>
    protected void RunEverywhere(MountMap map, NodeScript script, string? root, Action<SyncResult, string?> write)
    {
        if (ToFleet)
        {
            if (!IsTargets)
            {
                foreach (var id in Instances)
                {
                    QueueFleet(id, script, id);
                }
            }

            RunFleet(Activity, b => NodeResultParser.Sync(b, map), (id, r, _) => write(r, id), IsTargets ? script : null);
            return;
        }

        var block = RunLocal(script, root ?? LocalHostName);
        SyncResult result;
        try
        {
            result = NodeResultParser.Sync(block, map);
        }
        catch (S3MountException e)
        {
            Fail(e, root ?? LocalHostName);
            return;
        }

        write(result, null);
    }

    private IReadOnlyList<string>? _instances;

    /// <summary>The instances the command line names (checked once; a malformed id is an error for that id only).</summary>
    protected IReadOnlyList<string> Instances
    {
        get => _instances ??= _idsOnCommandLine ? CurrentInstances() : Array.Empty<string>();
        set => _instances = value;
    }

    /// <summary>Which nodes an invocation reaches, for ShouldProcess and messages: each instance, or one place.</summary>
    protected IReadOnlyList<string?> Nodes => ToFleet && !IsTargets ? Instances.Cast<string?>().ToList() : new string?[] { null };

    /// <summary>Writes a node's warnings, then counts it for the summary.</summary>
    protected void Count(SyncResult result, string? instanceId, IEnumerable<string> words)
    {
        foreach (var w in result.Warnings)
        {
            WriteWarning((instanceId is null ? string.Empty : instanceId + ": ") + w);
        }

        _nodes++;
        foreach (var word in words)
        {
            _summary[word] = _summary.TryGetValue(word, out var n) ? n + 1 : 1;
        }
    }

    /// <summary>The summary of the whole run on the information stream (shown like Write-Host; -InformationVariable keeps it).</summary>
    private void WriteSummary()
    {
        if (_nodes == 0)
        {
            return;
        }

        var total = _summary.Values.Sum();
        var parts = _summary.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value + " " + kv.Key);
        var text = $"{Activity}: {_nodes} {(_nodes == 1 ? "node" : "nodes")}, {total} {(total == 1 ? "mount" : "mounts")}: {string.Join(", ", parts)}.";
        WriteInformation(new HostInformationMessage { Message = text }, new[] { "PSHOST", "S3MountSummary" });
    }
}

/// <summary>
/// Reports how nodes differ from a mount map: per node and mount Missing, Drifted (with the fields that differ, old and
/// new), Extra (S3Mount's, not in the map), Foreign (a unit S3Mount did not write on a mapped path) or InSync.
/// Changes nothing.
/// </summary>
[Cmdlet(VerbsData.Compare, "S3MountService", DefaultParameterSetName = LocalSet)]
[OutputType(typeof(S3MountDrift))]
public sealed class CompareS3MountServiceCommand : MountMapCmdlet
{
    protected override string Activity => "Compare-S3MountService";

    protected override void Run(MountMap map, string? root) =>
        RunEverywhere(map, Script(map, root, apply: false), root, (r, id) =>
        {
            foreach (var item in r.Items)
            {
                var d = new S3MountDrift();
                d.Fill(item, id, r.Host, root);
                WriteObject(d);
            }

            Count(r, id, r.Items.Select(i => i.State.ToString()));
        });
}

/// <summary>
/// Makes nodes equal to a mount map: creates missing mounts, updates drifted ones (restarting only those), leaves
/// in-sync ones alone, removes extra ones only with -Prune and takes over foreign units only with -Adopt. A mount whose
/// change fails is rolled back and reported; the node's other mounts still converge.
/// </summary>
[Cmdlet(VerbsData.Sync, "S3MountService", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountSyncResult))]
public sealed class SyncS3MountServiceCommand : MountMapCmdlet
{
    /// <summary>Also remove S3Mount's mounts that the map does not have (their directories stay).</summary>
    [Parameter]
    public SwitchParameter Prune { get; set; }

    /// <summary>Take over units S3Mount did not write (the field recipe's) for a mapped bucket and path, under their name.</summary>
    [Parameter]
    public SwitchParameter Adopt { get; set; }

    protected override string Activity => "Sync-S3MountService";

    protected override void Run(MountMap map, string? root)
    {
        if (IsWhatIf)
        {
            // The plan is made where it would run: the nodes say what they would do, and each change is a What if line.
            RunEverywhere(map, Script(map, root, apply: false, Prune, Adopt), root, (r, id) =>
            {
                var where = Where(id, root);
                foreach (var item in r.Items.Where(i => i.Plan is "create" or "update" or "adopt" or "remove"))
                {
                    var spec = item.Desired ?? item.Current?.Spec;
                    var what = $"{item.Name} ({spec?.Uri} at {spec?.Path})" + where + (item.Detail.Length > 0 ? ": " + item.Detail : string.Empty);
                    ShouldProcess(what, item.Plan switch
                    {
                        "create" => "Create mount service",
                        "update" => "Update mount service (restarts it)",
                        "adopt" => "Adopt mount service (rewrites the unit and restarts it)",
                        _ => "Remove mount service",
                    });
                }

                foreach (var item in r.Items.Where(i => i.Plan == "keep"))
                {
                    WriteVerbose($"Keeping {item.Name} ({item.State}){where}: {item.Detail}" + (item.State == MountDrift.Extra ? " (-Prune removes it)" : " (-Adopt takes it over)"));
                }
            });
            return;
        }

        var nodes = Nodes.Where(id => ShouldProcess(
            $"{map.Mounts.Count} mapped {(map.Mounts.Count == 1 ? "mount" : "mounts")}{(Prune ? ", removing S3Mount's mounts not in the map" : string.Empty)}{(Adopt ? ", adopting foreign units" : string.Empty)}" + Where(id, root),
            "Converge mount services")).ToList();
        if (nodes.Count == 0)
        {
            return;
        }

        if (ToFleet && !IsTargets)
        {
            Instances = nodes.Cast<string>().ToList();
        }

        RunEverywhere(map, Script(map, root, apply: true, Prune, Adopt), root, (r, id) =>
        {
            var results = r.Items.Select(item => From(item, id, r.Host, root)).ToList();
            foreach (var (item, result) in r.Items.Zip(results, (a, b) => (a, b)))
            {
                foreach (var w in item.Warnings)
                {
                    WriteWarning((id is null ? string.Empty : id + ": ") + item.Name + ": " + w);
                }

                WriteObject(result);
                if (item.Error is { } e)
                {
                    Fail(new S3MountException(e.ErrorId, e.Kind, (id is null ? string.Empty : id + ": ") + e.Message, item.Name), id is null ? item.Name : id + "/" + item.Name);
                }
            }

            Count(r, id, results.Select(x => x.Action.ToString()));
        });
    }

    private static S3MountSyncResult From(SyncItem item, string? instanceId, string? host, string? root)
    {
        var s = new S3MountSyncResult();
        s.Fill(item, instanceId, host, root);
        s.Changed = item.Changed;
        s.Restarted = item.Restarted;
        s.Error = item.Error?.Message;
        s.ErrorId = item.Error?.ErrorId;
        s.Action = item.Error is not null ? S3MountSyncAction.Failed
            : !item.Attempted ? (item.State == MountDrift.InSync ? S3MountSyncAction.InSync : S3MountSyncAction.Kept)
            : item.Plan switch
            {
                "create" => S3MountSyncAction.Created,
                "update" => S3MountSyncAction.Updated,
                "adopt" => S3MountSyncAction.Adopted,
                _ => S3MountSyncAction.Removed,
            };
        return s;
    }
}
