using System;
using System.Collections.Generic;
using System.Linq;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Iam;

/// <summary>One mount to write a policy for: its spec, and the KMS keys its existing objects are encrypted with.</summary>
public sealed class IamMountRequest
{
    public IamMountRequest(MountSpec spec, IEnumerable<string>? kmsKeyArns = null)
    {
        Spec = spec;
        KmsKeyArns = (kmsKeyArns ?? Enumerable.Empty<string>()).Where(k => !string.IsNullOrEmpty(k)).Distinct(StringComparer.Ordinal).ToList();
    }

    public MountSpec Spec { get; }

    /// <summary>
    /// Keys S3Mount cannot see in the spec: the bucket's default SSE-KMS key, the shared cache bucket's key, keys of
    /// objects other writers made. Each gets kms:Decrypt, and kms:GenerateDataKey when the mount writes.
    /// </summary>
    public IReadOnlyList<string> KmsKeyArns { get; }
}

/// <summary>
/// The Mountpoint documentation each permission comes from: doc/CONFIGURATION.md of awslabs/mountpoint-s3, by section.
/// </summary>
public static class MountpointDocs
{
    public const string Configuration = "https://github.com/awslabs/mountpoint-s3/blob/main/doc/CONFIGURATION.md";
    public const string GeneralPurposeBuckets = "CONFIGURATION.md#general-purpose-buckets";
    public const string DirectoryBuckets = "CONFIGURATION.md#directory-buckets";
    public const string BucketPrefix = "CONFIGURATION.md#mounting-a-bucket-prefix";
    public const string AccessPoints = "CONFIGURATION.md#access-points";
    public const string BucketTypes = "CONFIGURATION.md#s3-bucket-types";
    public const string FileModifications = "CONFIGURATION.md#file-modifications-and-deletions";
    public const string DataEncryption = "CONFIGURATION.md#data-encryption";
    public const string OtherBucketConfiguration = "CONFIGURATION.md#other-s3-bucket-configuration";
    public const string SharedCache = "CONFIGURATION.md#shared-cache";
    public const string Credentials = "CONFIGURATION.md#aws-credentials";
}

/// <summary>
/// Turns mounts into the least-privilege identity policy their node role needs, following Mountpoint's documentation
/// of the permissions each configuration uses (see <see cref="MountpointDocs"/>): s3:ListBucket on the bucket (with an
/// s3:prefix condition for a prefix), s3:GetObject on bucket/prefix*, s3:PutObject and s3:AbortMultipartUpload when the
/// mount writes, s3:DeleteObject with --allow-delete, s3express:CreateSession for directory buckets and the shared cache,
/// kms:Decrypt and kms:GenerateDataKey on SSE-KMS keys. Grants of all mounts are merged (a whole bucket covers its
/// prefixes, equal conditions share a statement) and ordered the same way every time. Where a mount cannot be scoped
/// exactly (an access point alias without its Region and account, a directory bucket's session), the result says so
/// in <see cref="IamPolicyResult.Warnings"/>; no wildcard is ever added without one.
/// </summary>
public static class IamPolicyBuilder
{
    public const string ListBucket = "s3:ListBucket";
    public const string GetObject = "s3:GetObject";
    public const string PutObject = "s3:PutObject";
    public const string AbortMultipartUpload = "s3:AbortMultipartUpload";
    public const string DeleteObject = "s3:DeleteObject";
    public const string CreateSession = "s3express:CreateSession";
    public const string KmsDecrypt = "kms:Decrypt";
    public const string KmsGenerateDataKey = "kms:GenerateDataKey";

    private const string Outposts = "s3-outposts:";

    private static readonly string[] ActionOrder =
    {
        ListBucket, GetObject, PutObject, AbortMultipartUpload, DeleteObject,
        Outposts + "ListBucket", Outposts + "GetObject", Outposts + "PutObject", Outposts + "AbortMultipartUpload", Outposts + "DeleteObject",
        CreateSession, KmsDecrypt, KmsGenerateDataKey,
    };

    /// <summary>
    /// The policy for <paramref name="mounts"/>. <paramref name="partition"/> is the ARN partition for bucket names whose
    /// Region the spec does not give (default <c>aws</c>; a <c>BucketRegion</c> such as cn-north-1 selects its own).
    /// </summary>
    public static IamPolicyResult Build(IEnumerable<IamMountRequest> mounts, string? partition = null)
    {
        if (partition is not null && !Partitions.Contains(partition))
        {
            throw new S3MountException(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument,
                $"'{partition}' is not an AWS partition: use one of {string.Join(", ", Partitions)}.", partition);
        }

        var grants = new List<IamGrant>();
        var warnings = new List<string>();
        var notes = new List<string>();
        foreach (var m in mounts)
        {
            Validate(m);
            new MountGrants(m, partition ?? "aws", grants, warnings, notes).Add();
        }

        var merged = Merge(grants);
        var document = new IamPolicyDocument(Statements(merged));
        if (document.Size > IamPolicyDocument.ManagedPolicyLimit)
        {
            warnings.Add($"The policy has {document.Size:N0} characters without white space: more than the {IamPolicyDocument.ManagedPolicyLimit:N0} a managed policy may have (inline role policies share 10,240). Split the mounts into several policies.");
        }

        return new IamPolicyResult(document, grants, warnings.Distinct(StringComparer.Ordinal).ToList(), notes.Distinct(StringComparer.Ordinal).ToList());
    }

    /// <summary>Refuses a mount the policy cannot be written for (an invalid spec, a key that is not a KMS key ARN).</summary>
    public static void Validate(IamMountRequest mount)
    {
        SpecValidator.EnsureValid(mount.Spec);
        foreach (var key in mount.KmsKeyArns)
        {
            if (!SpecValidator.KmsKeyArnPattern.IsMatch(key))
            {
                throw new S3MountException(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument,
                    $"'{key}' is not a KMS key ARN (-KmsKeyArn): expected arn:aws:kms:<region>:<account>:key/<key-id> or an alias ARN.", key);
            }
        }
    }

    /// <summary>The partitions an ARN may name.</summary>
    public static IReadOnlyList<string> Partitions { get; } = new[] { "aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc" };

    /// <summary>The partition a Region belongs to.</summary>
    public static string PartitionOf(string region) =>
        region.StartsWith("cn-", StringComparison.Ordinal) ? "aws-cn"
        : region.StartsWith("us-gov-", StringComparison.Ordinal) ? "aws-us-gov"
        : region.StartsWith("us-isob-", StringComparison.Ordinal) ? "aws-iso-b"
        : region.StartsWith("us-isof-", StringComparison.Ordinal) ? "aws-iso-f"
        : region.StartsWith("eu-isoe-", StringComparison.Ordinal) ? "aws-iso-e"
        : region.StartsWith("us-iso-", StringComparison.Ordinal) ? "aws-iso"
        : region.StartsWith("eusc-", StringComparison.Ordinal) ? "aws-eusc"
        : "aws";

    /// <summary>
    /// A key or prefix as IAM matches it literally: <c>*</c>, <c>?</c> and <c>$</c> are written as the policy variables
    /// <c>${*}</c>, <c>${?}</c>, <c>${$}</c> (policy version 2012-10-17), so a prefix with a star grants no more than itself.
    /// </summary>
    public static string Literal(string text) =>
        text.Replace("$", "${$}").Replace("*", "${*}").Replace("?", "${?}");

    // ---- merging ----------------------------------------------------------------------------------------------------

    /// <summary>Removes every grant another one already covers, then joins s3:prefix values of the same resource.</summary>
    private static List<IamGrant> Merge(IReadOnlyList<IamGrant> grants)
    {
        var distinct = grants.GroupBy(g => g.Action + "\u0003" + g.Resource + "\u0003" + g.ConditionKey).Select(g => g.First()).ToList();
        var kept = distinct.Where(g => !distinct.Any(o => !ReferenceEquals(o, g) && Covers(o, g) && (!Covers(g, o) || distinct.IndexOf(o) < distinct.IndexOf(g)))).ToList();

        // Prefixes of one resource under otherwise equal conditions: one grant whose s3:prefix lists them all.
        return kept.GroupBy(g => g.Action + "\u0003" + g.Resource + "\u0003" + string.Join("\u0002", g.Conditions.Where(c => !IsPrefix(c)).Select(c => c.ToString())))
            .Select(group =>
            {
                var list = group.ToList();
                if (list.Count == 1 || list.Any(g => !g.Conditions.Any(IsPrefix)))
                {
                    return list;
                }

                var values = list.SelectMany(g => g.Conditions.Where(IsPrefix).SelectMany(c => c.Values)).Distinct(StringComparer.Ordinal).ToList();
                values = values.Where(v => !values.Any(o => o != v && PatternCovers(o, v))).ToList();
                var first = list[0];
                var op = first.Conditions.First(IsPrefix);
                var conditions = first.Conditions.Where(c => !IsPrefix(c)).Append(new IamCondition(op.Operator, op.Key, values));
                return new List<IamGrant> { new(first.Action, first.Resource, conditions, first.Reason, first.Mount) };
            })
            .SelectMany(g => g)
            .ToList();
    }

    private static bool IsPrefix(IamCondition c) => c.Operator == "StringLike" && c.Key.EndsWith(":prefix", StringComparison.Ordinal);

    /// <summary>True when <paramref name="a"/> allows everything <paramref name="b"/> allows.</summary>
    private static bool Covers(IamGrant a, IamGrant b) =>
        a.Action == b.Action
        && PatternCovers(a.Resource, b.Resource)
        && a.Conditions.All(ca => b.Conditions.Any(cb => cb.Operator == ca.Operator && cb.Key == ca.Key
            && cb.Values.All(vb => ca.Values.Any(va => ca.Operator == "StringLike" ? PatternCovers(va, vb) : va == vb))));

    /// <summary>A pattern that ends in <c>*</c> covers every pattern that starts with what comes before it.</summary>
    private static bool PatternCovers(string a, string b) =>
        a == b || (a.EndsWith("*", StringComparison.Ordinal) && !a.EndsWith("${*}", StringComparison.Ordinal)
            && a.IndexOf('*') == a.Length - 1 && b.StartsWith(a.Substring(0, a.Length - 1), StringComparison.Ordinal));

    /// <summary>
    /// Grants with equal conditions, grouped into statements by the set of actions each resource needs; statements in
    /// a fixed order (lists, objects, sessions, keys; then by resource).
    /// </summary>
    private static IReadOnlyList<IamStatement> Statements(IEnumerable<IamGrant> grants)
    {
        var raw = grants
            .GroupBy(g => g.ConditionKey)
            .SelectMany(byCondition => byCondition
                .GroupBy(g => g.Resource, StringComparer.Ordinal)
                .Select(r => (Resource: r.Key, Actions: r.Select(g => g.Action).Distinct().OrderBy(Rank).ToList(), Conditions: r.First().Conditions))
                .GroupBy(r => string.Join(",", r.Actions))
                .Select(a => (Actions: a.First().Actions, Resources: a.Select(r => r.Resource).OrderBy(x => x, StringComparer.Ordinal).ToList(), a.First().Conditions)))
            .OrderBy(s => Rank(s.Actions[0]))
            .ThenBy(s => s.Actions.Count)
            .ThenBy(s => s.Resources[0], StringComparer.Ordinal)
            .ThenBy(s => string.Join("\u0002", s.Conditions.Select(c => c.ToString())), StringComparer.Ordinal)
            .ToList();

        var used = new Dictionary<string, int>(StringComparer.Ordinal);
        return raw.Select(s =>
        {
            var family = Family(s.Actions);
            used[family] = used.TryGetValue(family, out var n) ? n + 1 : 1;
            return new IamStatement("Mountpoint" + family + (used[family] > 1 ? used[family].ToString(System.Globalization.CultureInfo.InvariantCulture) : string.Empty), s.Actions, s.Resources, s.Conditions);
        }).ToList();
    }

    private static int Rank(string action)
    {
        var i = Array.IndexOf(ActionOrder, action);
        return i < 0 ? ActionOrder.Length : i;
    }

    private static string Family(IReadOnlyList<string> actions)
    {
        var bare = actions.Select(a => a.Substring(a.IndexOf(':') + 1)).ToList();
        if (bare.Contains("CreateSession"))
        {
            return "ExpressSession";
        }

        if (actions.Any(a => a.StartsWith("kms:", StringComparison.Ordinal)))
        {
            return bare.Contains("GenerateDataKey") ? "KmsEncryptDecrypt" : "KmsDecrypt";
        }

        if (bare.Contains("ListBucket"))
        {
            return "ListBucket";
        }

        return bare.Contains("DeleteObject") ? "ReadWriteDelete" : bare.Contains("PutObject") ? "ReadWrite" : "Read";
    }

    // ---- one mount --------------------------------------------------------------------------------------------------

    /// <summary>What one mount asks for.</summary>
    private sealed class MountGrants
    {
        private readonly MountSpec _spec;
        private readonly MountOptions _o;
        private readonly IReadOnlyList<string> _keys;
        private readonly string _partition;
        private readonly List<IamGrant> _grants;
        private readonly List<string> _warnings;
        private readonly List<string> _notes;
        private readonly string _mount;

        public MountGrants(IamMountRequest m, string defaultPartition, List<IamGrant> grants, List<string> warnings, List<string> notes)
        {
            _spec = m.Spec;
            _o = m.Spec.Options;
            _keys = m.KmsKeyArns;
            _partition = _o.BucketRegion is { } r ? PartitionOf(r) : defaultPartition;
            _grants = grants;
            _warnings = warnings;
            _notes = notes;
            _mount = m.Spec.Uri;
        }

        /// <summary>True when the mount writes objects (new files, overwrites, appends).</summary>
        private bool Writable => !_o.ReadOnly;

        private string Region => _o.BucketRegion ?? "*";

        private string Account => _o.ExpectedBucketOwner ?? "*";

        public void Add()
        {
            if (_o.NoSignRequest)
            {
                _notes.Add($"{_mount}: --no-sign-request sends unsigned requests, so the node role needs no permission for it; the bucket policy must allow anonymous access ({MountpointDocs.Credentials}).");
                return;
            }

            var kind = Model.Bucket.Classify(_spec.Bucket);
            if (kind == BucketKind.GeneralPurpose && _spec.Bucket.EndsWith("--xa-s3", StringComparison.Ordinal))
            {
                DirectoryAccessPoint();
            }
            else if (Model.Bucket.IsDirectory(_spec.Bucket, _o.BucketType) && kind is BucketKind.GeneralPurpose or BucketKind.Directory)
            {
                DirectoryBucket();
            }
            else
            {
                switch (kind)
                {
                    case BucketKind.AccessPointArn:
                    case BucketKind.MultiRegionAccessPointArn:
                        Objects("s3:", NormalizeAccessPointArn(_spec.Bucket), _spec.Bucket.Contains(".mrap") ? "a Multi-Region Access Point" : "an access point", accessPoint: true);
                        break;
                    case BucketKind.OutpostsAccessPointArn:
                        Objects(Outposts, _spec.Bucket, "an S3 on Outposts access point", accessPoint: true);
                        break;
                    case BucketKind.AccessPointAlias:
                        AccessPointAlias();
                        break;
                    default:
                        Objects("s3:", $"arn:{_partition}:s3:::{_spec.Bucket}", null, accessPoint: false);
                        break;
                }
            }

            SharedCache();
            Kms();
            if (_o.RequesterPays)
            {
                _notes.Add($"{_mount}: --requester-pays needs no other action (the same s3 actions are charged to this account); a bucket in another account must grant this role in its bucket policy ({MountpointDocs.OtherBucketConfiguration}).");
            }
        }

        /// <summary>ListBucket on the bucket or access point, object actions on its keys under the prefix.</summary>
        private void Objects(string service, string arn, string? what, bool accessPoint)
        {
            var prefix = _spec.Prefix ?? string.Empty;
            var objects = accessPoint ? arn + "/object/" + Literal(prefix) + "*" : arn + "/" + Literal(prefix) + "*";
            var owner = OwnerCondition(accessPoint);
            var source = accessPoint && service == Outposts ? MountpointDocs.BucketTypes : accessPoint ? MountpointDocs.AccessPoints : MountpointDocs.GeneralPurposeBuckets;

            var list = new List<IamCondition>(owner);
            if (prefix.Length > 0)
            {
                if (service == Outposts)
                {
                    _warnings.Add($"{_mount}: S3 on Outposts has no s3:prefix condition S3Mount can rely on, so {service}ListBucket is granted on the whole access point {arn}, not only under '{prefix}'. Scope the access point's own policy to the prefix.");
                }
                else
                {
                    list.Add(new IamCondition("StringLike", "s3:prefix", new[] { Literal(prefix) + "*" }));
                }
            }

            Grant(service + "ListBucket", arn, list, prefix.Length > 0 && service != Outposts
                ? $"listing {(what ?? "the bucket")} under the prefix '{prefix}' (s3:prefix condition; {MountpointDocs.GeneralPurposeBuckets}, {MountpointDocs.BucketPrefix})"
                : $"listing {(what ?? "the bucket")} at mount time and for every directory ({source})");
            Grant(service + "GetObject", objects, owner, $"reading files, and looking them up with HeadObject ({source})");
            if (Writable)
            {
                Grant(service + "PutObject", objects, owner, $"writing new files: --read-only is not set ({MountpointDocs.GeneralPurposeBuckets})");
                Grant(service + "AbortMultipartUpload", objects, owner, $"abandoning an upload that fails: --read-only is not set ({MountpointDocs.GeneralPurposeBuckets})");
            }

            if (_o.AllowOverwrite)
            {
                Grant(service + "PutObject", objects, owner, $"--allow-overwrite replaces an object with a new upload: no action beyond s3:PutObject ({MountpointDocs.FileModifications})");
            }

            if (_o.AllowDelete)
            {
                Grant(service + "DeleteObject", objects, owner, $"--allow-delete deletes objects ({MountpointDocs.GeneralPurposeBuckets}, {MountpointDocs.FileModifications})");
            }

            if (accessPoint)
            {
                _notes.Add($"{_mount}: requests through {what} are authorised against its ARN; the bucket behind it must also allow them (a bucket policy that delegates to its access points, s3:DataAccessPointAccount) ({MountpointDocs.AccessPoints}).");
            }
        }

        /// <summary>The bucket's owner, when the mount names it: a general purpose bucket's ARN holds no account.</summary>
        private IReadOnlyList<IamCondition> OwnerCondition(bool accessPoint) =>
            _o.ExpectedBucketOwner is { } owner && !accessPoint
                ? new[] { new IamCondition("StringEquals", "aws:ResourceAccount", new[] { owner }) }
                : Array.Empty<IamCondition>();

        private void AccessPointAlias()
        {
            var alias = _spec.Bucket;
            var core = alias.Substring(0, alias.Length - "-s3alias".Length);
            var dash = core.LastIndexOf('-');
            if (dash <= 0)
            {
                _warnings.Add($"{_mount}: the access point alias '{alias}' does not say which access point it is, so no statement was written for it: IAM authorises requests through an alias against the access point's ARN. Mount the ARN (arn:aws:s3:<region>:<account>:accesspoint/<name>) instead ({MountpointDocs.AccessPoints}).");
                return;
            }

            var name = core.Substring(0, dash);
            var arn = $"arn:{_partition}:s3:{Region}:{Account}:accesspoint/{name}";
            if (_o.BucketRegion is null || _o.ExpectedBucketOwner is null)
            {
                _warnings.Add($"{_mount}: the access point alias '{alias}' names neither its Region nor its account, so the statements use {arn} (any {(_o.BucketRegion is null ? "Region" : string.Empty)}{(_o.BucketRegion is null && _o.ExpectedBucketOwner is null ? " and any " : string.Empty)}{(_o.ExpectedBucketOwner is null ? "account" : string.Empty)}). Give -BucketRegion and -ExpectedBucketOwner, or mount the access point ARN ({MountpointDocs.AccessPoints}).");
            }

            Objects("s3:", arn, "the access point " + name, accessPoint: true);
        }

        private void DirectoryBucket()
        {
            var arn = $"arn:{_partition}:s3express:{Region}:{Account}:bucket/{_spec.Bucket}";
            Grant(CreateSession, arn, null, $"a directory bucket: every operation runs in a session from s3express:CreateSession ({MountpointDocs.DirectoryBuckets})");
            DirectoryCaveats(arn, "bucket");
        }

        private void DirectoryAccessPoint()
        {
            var arn = $"arn:{_partition}:s3express:{Region}:{Account}:accesspoint/{_spec.Bucket}";
            Grant(CreateSession, arn, null, $"an access point for a directory bucket: sessions from s3express:CreateSession, scoped by the access point ({MountpointDocs.DirectoryBuckets}, {MountpointDocs.AccessPoints})");
            DirectoryCaveats(arn, "access point");
        }

        private void DirectoryCaveats(string arn, string what)
        {
            if (_o.IncrementalUpload)
            {
                Grant(CreateSession, arn, null, $"--incremental-upload appends within the session: no action beyond s3express:CreateSession ({MountpointDocs.FileModifications}, {MountpointDocs.DirectoryBuckets})");
            }

            if (_o.BucketRegion is null || _o.ExpectedBucketOwner is null)
            {
                _warnings.Add($"{_mount}: the {what} ARN needs the Region and account, which the mount does not give, so it is {arn}. Give -BucketRegion and -ExpectedBucketOwner to pin it ({MountpointDocs.DirectoryBuckets}).");
            }

            if (_spec.Prefix is not null)
            {
                _warnings.Add($"{_mount}: s3express:CreateSession grants the whole directory {what}, not only the prefix '{_spec.Prefix}'. To limit the node to the prefix, mount through an access point for directory buckets scoped to it ({MountpointDocs.DirectoryBuckets}).");
            }

            if (_o.ReadOnly || !_o.AllowDelete)
            {
                _warnings.Add($"{_mount}: a directory {what} session allows every operation, so this policy also lets the node {(_o.ReadOnly ? "write and delete" : "delete")}, which the mount's options do not; use an access point for directory buckets to restrict operations ({MountpointDocs.DirectoryBuckets}).");
            }
        }

        private void SharedCache()
        {
            if (_o.CacheExpressBucket is not { } cache)
            {
                return;
            }

            var (bucket, _) = Model.Bucket.SplitUri(cache);
            var arn = $"arn:{_partition}:s3express:{Region}:{Account}:bucket/{bucket}";
            Grant(CreateSession, arn, null, $"--cache-xz reads and writes the shared cache in the directory bucket {bucket} through s3express:CreateSession ({MountpointDocs.SharedCache})");
            if (_o.BucketRegion is null || _o.ExpectedBucketOwner is null)
            {
                _warnings.Add($"{_mount}: the shared cache bucket's ARN needs the Region and account (the cache is in the mounted bucket's Region and, as Mountpoint advises, account), which the mount does not give, so it is {arn}. Give -BucketRegion and -ExpectedBucketOwner to pin it ({MountpointDocs.SharedCache}).");
            }
        }

        /// <summary>
        /// SSE-KMS: the mount's --sse-kms-key-id (new objects, and the shared cache's objects) and the keys given with the
        /// mount. kms:Decrypt to read, and kms:GenerateDataKey too where the mount writes with the key.
        /// </summary>
        private void Kms()
        {
            var kms = _o.Sse is ServerSideEncryption.AwsKms or ServerSideEncryption.AwsKmsDsse;
            var writesCache = _o.CacheExpressBucket is not null;
            if (kms && _o.SseKmsKeyId is { } key)
            {
                Key(key, Writable || writesCache, Writable
                    ? $"--sse {Word()} --sse-kms-key-id: uploads are encrypted with the key, which needs kms:GenerateDataKey and kms:Decrypt ({MountpointDocs.GeneralPurposeBuckets}, {MountpointDocs.DataEncryption})"
                    : writesCache
                        ? $"--sse-kms-key-id also encrypts what --cache-xz writes to the shared cache ({MountpointDocs.DataEncryption}, {MountpointDocs.SharedCache})"
                        : $"--sse-kms-key-id names the key the mount's objects are encrypted with; reading them needs kms:Decrypt ({MountpointDocs.GeneralPurposeBuckets})");
            }
            else if (kms)
            {
                _notes.Add($"{_mount}: --sse {Word()} without --sse-kms-key-id uses the AWS managed key aws/s3, whose key policy lets the account use it through S3: no kms permission is needed ({MountpointDocs.DataEncryption}).");
            }

            foreach (var k in _keys)
            {
                Key(k, Writable || writesCache, Writable || writesCache
                    ? $"-KmsKeyArn: objects the mount reads and writes are encrypted with the key ({MountpointDocs.GeneralPurposeBuckets}, {MountpointDocs.SharedCache})"
                    : $"-KmsKeyArn: objects the mount reads are encrypted with the key ({MountpointDocs.GeneralPurposeBuckets})");
            }
        }

        private string Word() => _o.Sse == ServerSideEncryption.AwsKmsDsse ? "aws:kms:dsse" : "aws:kms";

        private void Key(string arn, bool encrypts, string reason)
        {
            var resource = arn;
            IamCondition[]? conditions = null;
            var alias = arn.IndexOf(":alias/", StringComparison.Ordinal);
            if (alias > 0)
            {
                // KMS authorises against the key, never the alias: any key of that account and Region, if it has the alias.
                resource = arn.Substring(0, alias) + ":key/*";
                conditions = new[] { new IamCondition("ForAnyValue:StringEquals", "kms:ResourceAliases", new[] { arn.Substring(alias + 1) }) };
            }

            Grant(KmsDecrypt, resource, conditions, reason);
            if (encrypts)
            {
                Grant(KmsGenerateDataKey, resource, conditions, reason);
            }
        }

        private void Grant(string action, string resource, IEnumerable<IamCondition>? conditions, string reason) =>
            _grants.Add(new IamGrant(action, resource, conditions, reason, _mount));

        /// <summary>IAM writes access point ARNs with a slash: <c>accesspoint/name</c>, also when mounted as <c>accesspoint:name</c>.</summary>
        private static string NormalizeAccessPointArn(string arn)
        {
            var i = arn.IndexOf(":accesspoint:", StringComparison.Ordinal);
            return i < 0 ? arn : arn.Substring(0, i) + ":accesspoint/" + arn.Substring(i + ":accesspoint:".Length);
        }
    }
}
