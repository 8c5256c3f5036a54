using System.Text.Json;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Iam;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Tests;

/// <summary>
/// Every row of the README's permission table: which action each mount option needs, from which Mountpoint
/// documentation section, and how the grants of several mounts merge into one stable, valid document.
/// </summary>
public class IamPolicyTests
{
    private const string Owner = "111122223333";
    private const string Key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    private static MountSpec Spec(params (string Field, object? Value)[] fields) =>
        MountSpecFields.Build(new MountSpec { Path = "/mnt/iam" }, fields.Select(f => new KeyValuePair<string, object?>(f.Field, f.Value)));

    private static IamPolicyResult Policy(params (string Field, object? Value)[] fields) => IamPolicyBuilder.Build(new[] { new IamMountRequest(Spec(fields)) });

    /// <summary>The statements as "actions | resources | conditions", in document order.</summary>
    private static List<string> Rows(IamPolicyResult r) =>
        r.Document.Statements.Select(s => string.Join(",", s.Actions) + " | " + string.Join(",", s.Resources) + (s.Conditions.Count == 0 ? string.Empty : " | " + string.Join(" & ", s.Conditions))).ToList();

    private static void AssertValidJson(IamPolicyResult r)
    {
        using var doc = JsonDocument.Parse(r.Document.ToJson());
        Assert.Equal("2012-10-17", doc.RootElement.GetProperty("Version").GetString());
        var sids = new HashSet<string>();
        foreach (var s in doc.RootElement.GetProperty("Statement").EnumerateArray())
        {
            Assert.Equal(new[] { "Sid", "Effect", "Action", "Resource" }, s.EnumerateObject().Select(p => p.Name).Take(4));
            Assert.Matches("^[A-Za-z0-9]+$", s.GetProperty("Sid").GetString()!);
            Assert.True(sids.Add(s.GetProperty("Sid").GetString()!), "Sids are unique");
            Assert.Equal("Allow", s.GetProperty("Effect").GetString());
            Assert.NotEqual(0, s.GetProperty("Action").GetArrayLength());
            Assert.NotEqual(0, s.GetProperty("Resource").GetArrayLength());
            Assert.All(s.GetProperty("Resource").EnumerateArray(), e => Assert.StartsWith("arn:", e.GetString()));
        }
    }

    // ---- general purpose buckets (CONFIGURATION.md#general-purpose-buckets) ---------------------------------------

    [Fact]
    public void A_default_mount_lists_reads_and_writes_new_files_but_never_deletes()
    {
        var r = Policy(("Bucket", "genomics"));
        Assert.Equal(new[]
        {
            "s3:ListBucket | arn:aws:s3:::genomics",
            "s3:GetObject,s3:PutObject,s3:AbortMultipartUpload | arn:aws:s3:::genomics/*",
        }, Rows(r));
        Assert.Empty(r.Warnings);
        Assert.All(r.Grants, g => Assert.Contains(MountpointDocs.GeneralPurposeBuckets, g.Reason));
        AssertValidJson(r);
    }

    [Fact]
    public void ReadOnly_grants_only_list_and_get()
    {
        var r = Policy(("Bucket", "genomics"), ("ReadOnly", true));
        Assert.Equal(new[] { "s3:ListBucket | arn:aws:s3:::genomics", "s3:GetObject | arn:aws:s3:::genomics/*" }, Rows(r));
        Assert.Equal(new[] { "MountpointListBucket", "MountpointRead" }, r.Document.Statements.Select(s => s.Sid));
    }

    [Fact]
    public void A_prefix_scopes_objects_by_resource_and_the_listing_by_the_s3_prefix_condition()
    {
        var r = Policy(("Bucket", "results"), ("Prefix", "run-42/"), ("ReadOnly", true));
        Assert.Equal(new[]
        {
            "s3:ListBucket | arn:aws:s3:::results | StringLike s3:prefix [run-42/*]",
            "s3:GetObject | arn:aws:s3:::results/run-42/*",
        }, Rows(r));
        Assert.Contains(r.Grants, g => g.Action == "s3:ListBucket" && g.Reason.Contains(MountpointDocs.BucketPrefix));
        Assert.Contains("\"StringLike\": {", r.Document.ToJson());
    }

    [Fact]
    public void A_prefix_in_an_s3_uri_is_the_same_as_Prefix() =>
        Assert.Equal(Rows(Policy(("Bucket", "results"), ("Prefix", "run-42/"))), Rows(Policy(("Bucket", "s3://results/run-42/"))));

    [Fact]
    public void AllowDelete_adds_DeleteObject()
    {
        var r = Policy(("Bucket", "scratch"), ("AllowDelete", true));
        Assert.Equal("s3:GetObject,s3:PutObject,s3:AbortMultipartUpload,s3:DeleteObject | arn:aws:s3:::scratch/*", Rows(r)[1]);
        Assert.Equal("MountpointReadWriteDelete", r.Document.Statements[1].Sid);
        Assert.Contains(r.Grants, g => g.Action == "s3:DeleteObject" && g.Reason.Contains(MountpointDocs.FileModifications));
    }

    [Fact]
    public void AllowOverwrite_needs_nothing_beyond_PutObject()
    {
        var r = Policy(("Bucket", "scratch"), ("AllowOverwrite", true));
        Assert.Equal(Rows(Policy(("Bucket", "scratch"))), Rows(r));
        Assert.Contains(r.Grants, g => g.Action == "s3:PutObject" && g.Reason.Contains("--allow-overwrite") && g.Reason.Contains(MountpointDocs.FileModifications));
    }

    [Theory]
    [InlineData("CacheDirectory", "/mnt/nvme/cache")]
    [InlineData("TransferAcceleration", true)]
    [InlineData("DualStack", true)]
    [InlineData("StorageClass", "INTELLIGENT_TIERING")]
    [InlineData("UploadChecksums", "off")]
    [InlineData("AllowOther", true)]
    [InlineData("MetadataTtl", "indefinite")]
    [InlineData("S3EndpointUrl", "https://bucket.vpce-0e25b8cdd720f900e-argc85vg.s3.us-east-1.vpce.amazonaws.com")]
    [InlineData("Sse", "AES256")]
    public void Options_that_change_no_request_change_no_permission(string field, object value) =>
        Assert.Equal(Rows(Policy(("Bucket", "data"))), Rows(Policy(("Bucket", "data"), (field, value))));

    [Fact]
    public void RequesterPays_needs_the_same_actions_and_says_what_the_bucket_owner_must_grant()
    {
        var r = Policy(("Bucket", "public-data"), ("RequesterPays", true), ("ReadOnly", true));
        Assert.Equal(Rows(Policy(("Bucket", "public-data"), ("ReadOnly", true))), Rows(r));
        Assert.Contains(r.Notes, n => n.Contains("--requester-pays") && n.Contains(MountpointDocs.OtherBucketConfiguration));
    }

    [Fact]
    public void ExpectedBucketOwner_pins_every_statement_to_the_owner_account()
    {
        var r = Policy(("Bucket", "data"), ("ExpectedBucketOwner", Owner), ("ReadOnly", true));
        Assert.Equal(new[]
        {
            "s3:ListBucket | arn:aws:s3:::data | StringEquals aws:ResourceAccount [111122223333]",
            "s3:GetObject | arn:aws:s3:::data/* | StringEquals aws:ResourceAccount [111122223333]",
        }, Rows(r));
    }

    [Fact]
    public void NoSignRequest_needs_no_permission()
    {
        var r = Policy(("Bucket", "open-data"), ("NoSignRequest", true), ("ReadOnly", true));
        Assert.Empty(r.Document.Statements);
        Assert.Contains(r.Notes, n => n.Contains("--no-sign-request") && n.Contains(MountpointDocs.Credentials));
        AssertValidJson(r);
    }

    [Fact]
    public void A_Region_selects_its_partition_and_Partition_sets_it_for_bucket_names()
    {
        Assert.StartsWith("s3:ListBucket | arn:aws-cn:s3:::data", Rows(Policy(("Bucket", "data"), ("BucketRegion", "cn-north-1")))[0]);
        Assert.StartsWith("s3:ListBucket | arn:aws-us-gov:s3:::data", Rows(IamPolicyBuilder.Build(new[] { new IamMountRequest(Spec(("Bucket", "data"))) }, "aws-us-gov"))[0]);
        var e = Assert.Throws<S3MountException>(() => IamPolicyBuilder.Build(new[] { new IamMountRequest(Spec(("Bucket", "data"))) }, "aws-moon"));
        Assert.Equal(ErrorIds.OptionInvalid, e.ErrorId);
    }

    [Fact]
    public void Wildcard_characters_in_a_prefix_grant_only_themselves()
    {
        var r = Policy(("Bucket", "data"), ("Prefix", "a*b?$/"), ("ReadOnly", true));
        Assert.Equal(new[]
        {
            "s3:ListBucket | arn:aws:s3:::data | StringLike s3:prefix [a${*}b${?}${$}/*]",
            "s3:GetObject | arn:aws:s3:::data/a${*}b${?}${$}/*",
        }, Rows(r));
    }

    // ---- access points (CONFIGURATION.md#access-points) -----------------------------------------------------------

    [Theory]
    [InlineData("arn:aws:s3:us-west-2:123456789012:accesspoint/reports-ap")]
    [InlineData("arn:aws:s3:us-west-2:123456789012:accesspoint:reports-ap")]
    public void An_access_point_ARN_is_the_resource_and_its_objects_are_under_object(string arn)
    {
        var r = Policy(("Bucket", arn), ("Prefix", "2026/"));
        Assert.Equal(new[]
        {
            "s3:ListBucket | arn:aws:s3:us-west-2:123456789012:accesspoint/reports-ap | StringLike s3:prefix [2026/*]",
            "s3:GetObject,s3:PutObject,s3:AbortMultipartUpload | arn:aws:s3:us-west-2:123456789012:accesspoint/reports-ap/object/2026/*",
        }, Rows(r));
        Assert.Empty(r.Warnings);
        Assert.Contains(r.Notes, n => n.Contains("s3:DataAccessPointAccount") && n.Contains(MountpointDocs.AccessPoints));
        AssertValidJson(r);
    }

    [Fact]
    public void A_Multi_Region_Access_Point_ARN_is_the_resource()
    {
        var r = Policy(("Bucket", "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"), ("ReadOnly", true));
        Assert.Equal(new[]
        {
            "s3:ListBucket | arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap",
            "s3:GetObject | arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap/object/*",
        }, Rows(r));
    }

    [Fact]
    public void An_access_point_alias_becomes_its_ARN_with_a_warning_for_what_the_alias_does_not_say()
    {
        var alias = "my-access-point-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias";
        var loose = Policy(("Bucket", alias), ("ReadOnly", true));
        Assert.Equal(new[]
        {
            "s3:ListBucket | arn:aws:s3:*:*:accesspoint/my-access-point",
            "s3:GetObject | arn:aws:s3:*:*:accesspoint/my-access-point/object/*",
        }, Rows(loose));
        var w = Assert.Single(loose.Warnings);
        Assert.Contains("any Region and any account", w);

        var pinned = Policy(("Bucket", alias), ("ReadOnly", true), ("BucketRegion", "eu-west-1"), ("ExpectedBucketOwner", Owner));
        Assert.Equal("s3:ListBucket | arn:aws:s3:eu-west-1:111122223333:accesspoint/my-access-point", Rows(pinned)[0]);
        Assert.Empty(pinned.Warnings);
    }

    [Fact]
    public void An_Outposts_access_point_uses_the_s3_outposts_actions_and_warns_that_it_cannot_scope_the_listing()
    {
        var arn = "arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01ac5d28a6a232904/accesspoint/reports-ap";
        var r = Policy(("Bucket", arn), ("Prefix", "p/"), ("AllowDelete", true));
        Assert.Equal(new[]
        {
            "s3-outposts:ListBucket | " + arn,
            "s3-outposts:GetObject,s3-outposts:PutObject,s3-outposts:AbortMultipartUpload,s3-outposts:DeleteObject | " + arn + "/object/p/*",
        }, Rows(r));
        Assert.Contains(r.Warnings, x => x.Contains("s3-outposts:ListBucket is granted on the whole access point"));
    }

    // ---- directory buckets (CONFIGURATION.md#directory-buckets) ----------------------------------------------------

    [Fact]
    public void A_directory_bucket_needs_CreateSession_on_its_s3express_ARN()
    {
        var r = Policy(("Bucket", "fast--usw2-az1--x-s3"), ("BucketRegion", "us-west-2"), ("ExpectedBucketOwner", Owner), ("AllowDelete", true));
        Assert.Equal(new[] { "s3express:CreateSession | arn:aws:s3express:us-west-2:111122223333:bucket/fast--usw2-az1--x-s3" }, Rows(r));
        Assert.Equal("MountpointExpressSession", r.Document.Statements[0].Sid);
        Assert.Empty(r.Warnings);
        Assert.Contains(r.Grants, g => g.Reason.Contains(MountpointDocs.DirectoryBuckets));
    }

    [Fact]
    public void A_directory_bucket_the_tool_cannot_scope_says_so()
    {
        var r = Policy(("Bucket", "fast--usw2-az1--x-s3"), ("Prefix", "job/"), ("ReadOnly", true));
        Assert.Equal(new[] { "s3express:CreateSession | arn:aws:s3express:*:*:bucket/fast--usw2-az1--x-s3" }, Rows(r));
        Assert.Contains(r.Warnings, w => w.Contains("needs the Region and account"));
        Assert.Contains(r.Warnings, w => w.Contains("not only the prefix 'job/'"));
        Assert.Contains(r.Warnings, w => w.Contains("write and delete"));
    }

    [Fact]
    public void BucketType_directory_makes_a_directory_bucket() =>
        Assert.StartsWith("s3express:CreateSession", Rows(Policy(("Bucket", "fast--usw2-az1--x-s3"), ("BucketType", "directory")))[0]);

    [Fact]
    public void IncrementalUpload_needs_nothing_beyond_the_session()
    {
        var r = Policy(("Bucket", "fast--usw2-az1--x-s3"), ("IncrementalUpload", true), ("BucketRegion", "us-west-2"), ("ExpectedBucketOwner", Owner));
        Assert.Equal(new[] { "s3express:CreateSession | arn:aws:s3express:us-west-2:111122223333:bucket/fast--usw2-az1--x-s3" }, Rows(r));
        Assert.Contains(r.Grants, g => g.Reason.Contains("--incremental-upload") && g.Reason.Contains(MountpointDocs.FileModifications));
    }

    [Fact]
    public void An_access_point_for_a_directory_bucket_needs_CreateSession_on_the_access_point()
    {
        var r = Policy(("Bucket", "reports--usw2-az1--xa-s3"), ("BucketRegion", "us-west-2"), ("ExpectedBucketOwner", Owner), ("AllowDelete", true));
        Assert.Equal(new[] { "s3express:CreateSession | arn:aws:s3express:us-west-2:111122223333:accesspoint/reports--usw2-az1--xa-s3" }, Rows(r));
    }

    // ---- the shared cache (CONFIGURATION.md#shared-cache) ----------------------------------------------------------

    [Fact]
    public void CacheExpressBucket_adds_a_session_on_the_cache_bucket()
    {
        var r = Policy(("Bucket", "data"), ("ReadOnly", true), ("CacheExpressBucket", "cache--usw2-az1--x-s3"), ("BucketRegion", "us-west-2"), ("ExpectedBucketOwner", Owner));
        Assert.Equal(new[]
        {
            "s3:ListBucket | arn:aws:s3:::data | StringEquals aws:ResourceAccount [111122223333]",
            "s3:GetObject | arn:aws:s3:::data/* | StringEquals aws:ResourceAccount [111122223333]",
            "s3express:CreateSession | arn:aws:s3express:us-west-2:111122223333:bucket/cache--usw2-az1--x-s3",
        }, Rows(r));
        Assert.Contains(r.Grants, g => g.Action == IamPolicyBuilder.CreateSession && g.Reason.Contains(MountpointDocs.SharedCache));
        Assert.Contains(Policy(("Bucket", "data"), ("CacheExpressBucket", "cache--usw2-az1--x-s3")).Warnings, w => w.Contains("shared cache bucket"));
    }

    // ---- SSE-KMS (CONFIGURATION.md#general-purpose-buckets, #data-encryption) --------------------------------------

    [Theory]
    [InlineData("aws:kms")]
    [InlineData("aws:kms:dsse")]
    public void A_KMS_key_of_a_writable_mount_needs_Decrypt_and_GenerateDataKey(string sse)
    {
        var r = Policy(("Bucket", "secure"), ("Sse", sse), ("SseKmsKeyId", Key));
        Assert.Equal("kms:Decrypt,kms:GenerateDataKey | " + Key, Rows(r)[2]);
        Assert.Equal("MountpointKmsEncryptDecrypt", r.Document.Statements[2].Sid);
        Assert.Contains(r.Grants, g => g.Action == "kms:GenerateDataKey" && g.Reason.Contains(MountpointDocs.DataEncryption));
    }

    [Fact]
    public void A_KMS_key_of_a_read_only_mount_needs_only_Decrypt()
    {
        var r = Policy(("Bucket", "secure"), ("Sse", "aws:kms"), ("SseKmsKeyId", Key), ("ReadOnly", true));
        Assert.Equal("kms:Decrypt | " + Key, Rows(r)[2]);
        Assert.Equal("MountpointKmsDecrypt", r.Document.Statements[2].Sid);
    }

    [Fact]
    public void A_read_only_mount_that_writes_the_shared_cache_with_a_KMS_key_needs_GenerateDataKey()
    {
        var r = Policy(("Bucket", "secure"), ("Sse", "aws:kms"), ("SseKmsKeyId", Key), ("ReadOnly", true), ("CacheExpressBucket", "cache--usw2-az1--x-s3"));
        Assert.Contains("kms:Decrypt,kms:GenerateDataKey | " + Key, Rows(r));
    }

    [Fact]
    public void The_AWS_managed_key_needs_no_KMS_permission()
    {
        var r = Policy(("Bucket", "secure"), ("Sse", "aws:kms"));
        Assert.DoesNotContain(r.Document.Statements, s => s.Actions.Any(a => a.StartsWith("kms:")));
        Assert.Contains(r.Notes, n => n.Contains("aws/s3"));
    }

    [Fact]
    public void A_KMS_alias_ARN_is_matched_by_the_alias_on_the_account_s_keys()
    {
        var r = Policy(("Bucket", "secure"), ("Sse", "aws:kms"), ("SseKmsKeyId", "arn:aws:kms:us-east-1:111122223333:alias/mountpoint"));
        Assert.Equal("kms:Decrypt,kms:GenerateDataKey | arn:aws:kms:us-east-1:111122223333:key/* | ForAnyValue:StringEquals kms:ResourceAliases [alias/mountpoint]", Rows(r)[2]);
        Assert.Contains("\"ForAnyValue:StringEquals\"", r.Document.ToJson());
    }

    [Fact]
    public void KmsKeyArn_adds_keys_the_spec_cannot_name()
    {
        var ro = IamPolicyBuilder.Build(new[] { new IamMountRequest(Spec(("Bucket", "secure"), ("ReadOnly", true)), new[] { Key }) });
        Assert.Equal("kms:Decrypt | " + Key, Rows(ro)[2]);
        var rw = IamPolicyBuilder.Build(new[] { new IamMountRequest(Spec(("Bucket", "secure")), new[] { Key }) });
        Assert.Equal("kms:Decrypt,kms:GenerateDataKey | " + Key, Rows(rw)[2]);
        var e = Assert.Throws<S3MountException>(() => IamPolicyBuilder.Build(new[] { new IamMountRequest(Spec(("Bucket", "secure")), new[] { "alias/x" }) }));
        Assert.Equal(ErrorIds.OptionInvalid, e.ErrorId);
    }

    // ---- merging and order -------------------------------------------------------------------------------------------

    private static IamPolicyResult Many(params MountSpec[] specs) => IamPolicyBuilder.Build(specs.Select(s => new IamMountRequest(s)));

    [Fact]
    public void Mounts_merge_into_few_statements_and_a_whole_bucket_covers_its_prefixes()
    {
        var r = Many(
            Spec(("Bucket", "ref"), ("ReadOnly", true)),
            Spec(("Bucket", "ref"), ("Prefix", "hg38/"), ("ReadOnly", true)),
            Spec(("Bucket", "results"), ("Prefix", "run-1/"), ("AllowDelete", true)),
            Spec(("Bucket", "results"), ("Prefix", "run-2/")),
            Spec(("Bucket", "ref2"), ("ReadOnly", true)));
        Assert.Equal(new[]
        {
            "s3:ListBucket | arn:aws:s3:::ref,arn:aws:s3:::ref2",
            "s3:ListBucket | arn:aws:s3:::results | StringLike s3:prefix [run-1/*, run-2/*]",
            "s3:GetObject | arn:aws:s3:::ref/*,arn:aws:s3:::ref2/*",
            "s3:GetObject,s3:PutObject,s3:AbortMultipartUpload | arn:aws:s3:::results/run-2/*",
            "s3:GetObject,s3:PutObject,s3:AbortMultipartUpload,s3:DeleteObject | arn:aws:s3:::results/run-1/*",
        }, Rows(r));
        Assert.Equal(new[] { "MountpointListBucket", "MountpointListBucket2", "MountpointRead", "MountpointReadWrite", "MountpointReadWriteDelete" }, r.Document.Statements.Select(s => s.Sid));
        AssertValidJson(r);
    }

    [Fact]
    public void A_writable_and_a_read_only_mount_of_one_bucket_give_the_writable_permissions_once()
    {
        var r = Many(Spec(("Bucket", "data"), ("ReadOnly", true)), Spec(("Bucket", "data"), ("Path", "/mnt/rw")));
        Assert.Equal(Rows(Policy(("Bucket", "data"))), Rows(r));
    }

    [Fact]
    public void A_prefix_covers_deeper_prefixes_of_the_same_bucket()
    {
        var r = Many(Spec(("Bucket", "data"), ("Prefix", "a/"), ("ReadOnly", true)), Spec(("Bucket", "data"), ("Prefix", "a/b/"), ("ReadOnly", true)));
        Assert.Equal(Rows(Policy(("Bucket", "data"), ("Prefix", "a/"), ("ReadOnly", true))), Rows(r));
    }

    [Fact]
    public void The_order_of_the_mounts_does_not_change_the_document()
    {
        var specs = new[]
        {
            Spec(("Bucket", "bk1"), ("ReadOnly", true)), Spec(("Bucket", "bk2"), ("Prefix", "x/")), Spec(("Bucket", "bk3"), ("AllowDelete", true)),
            Spec(("Bucket", "fast--usw2-az1--x-s3")), Spec(("Bucket", "bk4"), ("Sse", "aws:kms"), ("SseKmsKeyId", Key)),
            Spec(("Bucket", "arn:aws:s3:us-west-2:123456789012:accesspoint/ap1"), ("ReadOnly", true)), Spec(("Bucket", "bk2"), ("Prefix", "y/"), ("ReadOnly", true)),
        };
        var expected = Many(specs).Document.ToJson();
        var rng = new Random(7);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(expected, Many(specs.OrderBy(_ => rng.Next()).ToArray()).Document.ToJson());
        }
    }

    [Fact]
    public void The_JSON_is_the_document_IAM_takes()
    {
        var json = Policy(("Bucket", "results"), ("Prefix", "run-42/"), ("ReadOnly", true)).Document.ToJson();
        Assert.Equal(
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"MountpointListBucket\",\n      \"Effect\": \"Allow\",\n" +
            "      \"Action\": [\n        \"s3:ListBucket\"\n      ],\n      \"Resource\": [\n        \"arn:aws:s3:::results\"\n      ],\n" +
            "      \"Condition\": {\n        \"StringLike\": {\n          \"s3:prefix\": [\n            \"run-42/*\"\n          ]\n        }\n      }\n    },\n" +
            "    {\n      \"Sid\": \"MountpointRead\",\n      \"Effect\": \"Allow\",\n      \"Action\": [\n        \"s3:GetObject\"\n      ],\n" +
            "      \"Resource\": [\n        \"arn:aws:s3:::results/run-42/*\"\n      ]\n    }\n  ]\n}",
            json);
    }

    [Fact]
    public void A_policy_larger_than_a_managed_policy_may_be_is_a_warning()
    {
        var specs = Enumerable.Range(0, 120).Select(i => Spec(("Bucket", "bucket-number-" + i), ("Prefix", "some/longer/prefix/" + i + "/"))).ToArray();
        var r = Many(specs);
        Assert.True(r.Document.Size > IamPolicyDocument.ManagedPolicyLimit);
        Assert.Contains(r.Warnings, w => w.Contains("6,144"));
        Assert.DoesNotContain(Policy(("Bucket", "data")).Warnings, w => w.Contains("6,144"));
    }
}
